// The certificates the workers serve, as plain data (DESIGN.md habit 5): the control plane reads
// and checks the Secrets, the workers build SecureContexts from this. Carries private keys: it
// travels between threads of one process only, and is never logged.

export interface CertificatePem {
  /** The certificate chain (leaf first), PEM. */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
}

export interface TlsMaterial {
  /** Certificate id (sha256 of certificate and key) → PEM; only those in use. */
  readonly certificates: Readonly<Record<string, CertificatePem>>;
  /**
   * Lower-case SNI host (exact, or `*.example.com`) → certificate id. Hosts served by the
   * default certificate (no Secret, or a Secret that failed its checks) are absent.
   */
  readonly hosts: Readonly<Record<string, string>>;
  /** Id of the certificate for no SNI and for names nothing else covers. */
  readonly defaultCertificate: string;
  /**
   * proxy-ssl-secret Secrets by `namespace/name`, for TLS to HTTPS and GRPCS backends; only those
   * that passed the control plane's checks (a route naming another one answers 502). Absent: none.
   */
  readonly upstream?: Readonly<Record<string, UpstreamTlsPem>>;
  /**
   * auth-secret users by Secret and type (core basicAuthKey), for basic authentication; only the
   * Secrets that passed the control plane's checks (a route naming another one answers 503), and
   * only their entries that passed (control/basic-auth-resolver.ts). Absent: none.
   */
  readonly basicAuth?: Readonly<Record<string, BasicAuthUsers>>;
  /**
   * auth-tls-secret CA bundles by virtual host (lower case, or `*.example.com`), for the hosts
   * whose Secret passed the control plane's checks (a host naming another one answers 403); null
   * for a host without client certificates that an entry's wildcard would otherwise cover. Absent: none.
   */
  readonly clientAuth?: Readonly<Record<string, ClientAuthPem | null>>;
  /** Changes whenever anything above does. */
  readonly fingerprint: string;
}

/** One Secret's users: [user, htpasswd hash] in file order, user names as latin1 strings of their bytes. */
export type BasicAuthUsers = readonly (readonly [string, string])[];

/** An auth-tls-secret's CA bundle, and whether the handshake asks for a certificate (auth-tls-verify-client other than off). */
export interface ClientAuthPem {
  /** ca.crt, PEM. */
  readonly ca: string;
  /** sha256 of ca.crt: a connection verified with another bundle is not this one's. */
  readonly id: string;
  readonly request: boolean;
  /** The host whose settings these are (ClientCertPolicy.host): a server-alias's entry names its host. */
  readonly host: string;
}

/** A proxy-ssl-secret's PEM: the CAs to verify the backend with, and the client certificate. */
export interface UpstreamTlsPem {
  readonly ca: string | null;
  /** tls.crt and tls.key, both or neither. */
  readonly cert: string | null;
  readonly key: string | null;
}

/**
 * The TLS server settings every SecureContext gets: TLS 1.2 minimum (TLS 1.0/1.1 are refused,
 * RFC 8996) and Mozilla's "intermediate" TLS 1.2 cipher list (ECDHE, AEAD only; all of them
 * allowed by HTTP/2, RFC 9113 §9.2.2), after the TLS 1.3 suites OpenSSL enables by default.
 */
export const TLS_SETTINGS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
} as const;
