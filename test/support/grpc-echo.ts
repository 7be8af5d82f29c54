// A gRPC echo service (grpc-echo.proto) for end-to-end tests, with @grpc/grpc-js: a server on
// 127.0.0.1 (cleartext h2c, or TLS with a certificate from certs.ts) that reports what it received
// and which calls were cancelled, and clients that call through Gatehouse's HTTPS listener.
//
// Every call answers with initial metadata `x-echo-server: <name>` and trailing metadata
// `x-echo-trailer: <name>`, and echoes the request's `x-test` metadata back in both.

import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = fileURLToPath(new URL('./grpc-echo.proto', import.meta.url));

export interface EchoRequest {
  message?: string;
  count?: number;
  intervalMs?: number;
  status?: number;
}

export interface EchoReply {
  message: string;
  index: number;
  server: string;
}

type Stub = grpc.Client & {
  Unary(req: EchoRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply?: EchoReply) => void): grpc.ClientUnaryCall;
  ServerStream(req: EchoRequest, md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientReadableStream<EchoReply>;
  Bidi(md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientDuplexStream<EchoRequest, EchoReply>;
};

interface EchoService {
  service: grpc.ServiceDefinition;
  new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions): Stub;
}

let loaded: EchoService | undefined;
function echoService(): EchoService {
  if (loaded === undefined) {
    const def = protoLoader.loadSync(PROTO, { keepCase: false, longs: Number, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { gatehouse: { test: { Echo: EchoService } } };
    loaded = pkg.gatehouse.test.Echo;
  }
  return loaded;
}

export interface ReceivedCall {
  readonly method: string;
  /** The request metadata as the server saw it (header name → values). */
  readonly metadata: Record<string, grpc.MetadataValue[]>;
  /** :authority as the server saw it. */
  readonly host: string;
}

export interface GrpcEcho {
  readonly name: string;
  readonly port: number;
  readonly received: ReceivedCall[];
  /** Methods whose call the server saw cancelled (the client reset the stream), in order. */
  readonly cancelled: string[];
  close(): Promise<void>;
}

function metadataOf(md: grpc.Metadata): Record<string, grpc.MetadataValue[]> {
  const out: Record<string, grpc.MetadataValue[]> = {};
  for (const key of Object.keys(md.getMap())) out[key] = md.get(key);
  return out;
}

export async function startGrpcEcho(o: { name: string; tls?: { cert: string; key: string; clientCa?: string } }): Promise<GrpcEcho> {
  const { name } = o;
  const received: ReceivedCall[] = [];
  const cancelled: string[] = [];
  const server = new grpc.Server();
  const record = (method: string, call: { metadata: grpc.Metadata; getHost(): string }) => {
    received.push({ method, metadata: metadataOf(call.metadata), host: call.getHost() });
  };
  const initial = (call: { metadata: grpc.Metadata }) => {
    const md = new grpc.Metadata();
    md.set('x-echo-server', name);
    for (const v of call.metadata.get('x-test')) md.add('x-test', v);
    return md;
  };
  const trailing = (call: { metadata: grpc.Metadata }) => {
    const md = new grpc.Metadata();
    md.set('x-echo-trailer', name);
    for (const v of call.metadata.get('x-test')) md.add('x-test', v);
    return md;
  };
  server.addService(echoService().service, {
    Unary: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) => {
      record('Unary', call);
      const req = call.request;
      if (req.status) {
        cb({ code: req.status, details: `failed on purpose: ${req.message ?? ''}`, metadata: trailing(call) });
        return;
      }
      call.sendMetadata(initial(call));
      cb(null, { message: req.message ?? '', index: 0, server: name }, trailing(call));
    },
    ServerStream: (call: grpc.ServerWritableStream<EchoRequest, EchoReply>) => {
      record('ServerStream', call);
      const req = call.request;
      call.sendMetadata(initial(call));
      let i = 0;
      let timer: NodeJS.Timeout | undefined;
      call.on('cancelled', () => {
        cancelled.push('ServerStream');
        clearTimeout(timer);
      });
      const next = () => {
        if (call.cancelled) return;
        if (i === (req.count ?? 0)) return void call.end(trailing(call));
        call.write({ message: `${req.message ?? ''} ${i}`, index: i, server: name });
        i++;
        timer = setTimeout(next, req.intervalMs ?? 0);
      };
      next();
    },
    Bidi: (call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) => {
      record('Bidi', call);
      call.sendMetadata(initial(call));
      let i = 0;
      call.on('data', (req: EchoRequest) => call.write({ message: req.message ?? '', index: i++, server: name }));
      call.on('end', () => call.end(trailing(call)));
      call.on('cancelled', () => cancelled.push('Bidi'));
    },
  });
  const credentials = o.tls === undefined
    ? grpc.ServerCredentials.createInsecure()
    : grpc.ServerCredentials.createSsl(o.tls.clientCa === undefined ? null : Buffer.from(o.tls.clientCa), [{ private_key: Buffer.from(o.tls.key), cert_chain: Buffer.from(o.tls.cert) }], o.tls.clientCa !== undefined);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))));
  let closing: Promise<void> | null = null;
  return {
    name,
    port,
    received,
    cancelled,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      })),
  };
}

/**
 * A client of the echo service through Gatehouse's HTTPS listener on 127.0.0.1:`port`: TLS with
 * SNI and :authority `host`, the listener's certificate checked against `ca`, ALPN h2.
 */
export function grpcClient(port: number, host: string, ca: string): Stub {
  const Echo = echoService();
  return new Echo(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(ca)), {
    'grpc.ssl_target_name_override': host,
    'grpc.default_authority': host,
    // One connection per test client; no retries, so a status is what came back.
    'grpc.enable_retries': 0,
  });
}

/** A unary call as a promise: the reply, initial metadata and status (with trailing metadata). */
export function unary(client: Stub, req: EchoRequest, md: grpc.Metadata = new grpc.Metadata(), deadlineMs = 5000): Promise<{ reply: EchoReply | undefined; error: grpc.ServiceError | null; metadata: grpc.Metadata | null; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    let metadata: grpc.Metadata | null = null;
    let reply: EchoReply | undefined;
    let error: grpc.ServiceError | null = null;
    let done = 0;
    let status: grpc.StatusObject;
    const finish = () => {
      if (++done === 2) resolve({ reply, error, metadata, status });
    };
    const call = client.Unary(req, md, { deadline: Date.now() + deadlineMs }, (err, r) => {
      error = err;
      reply = r;
      finish();
    });
    call.on('metadata', (m: grpc.Metadata) => (metadata = m));
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      finish();
    });
  });
}

export { grpc };
