// `Status` objects exactly as the API server writes them for failures
// (k8s.io/apimachinery/pkg/api/errors), and the error type that carries one.

import { qualifiedName, type ResourceType } from './resources.ts';

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: Array<{ reason?: string; message: string; field?: string }>;
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** A failure answered as a Status; thrown by the store and the direct-access API. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status: Status;
  constructor(status: Status) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
    this.name = 'KubeApiError';
    this.code = status.code;
    this.reason = status.reason ?? '';
    this.status = status;
  }
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function failure(code: number, message: string, reason = REASONS[code] ?? 'Unknown', details?: StatusDetails): Status {
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) status.details = details;
  return status;
}

export function error(code: number, message: string, reason?: string, details?: StatusDetails): KubeApiError {
  return new KubeApiError(failure(code, message, reason, details));
}

function detailsOf(r: ResourceType, name: string): StatusDetails {
  return r.group ? { name, group: r.group, kind: r.plural } : { name, kind: r.plural };
}

export function notFound(r: ResourceType, name: string): KubeApiError {
  return error(404, `${qualifiedName(r)} "${name}" not found`, 'NotFound', detailsOf(r, name));
}

export function alreadyExists(r: ResourceType, name: string): KubeApiError {
  return error(409, `${qualifiedName(r)} "${name}" already exists`, 'AlreadyExists', detailsOf(r, name));
}

export function conflict(r: ResourceType, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): KubeApiError {
  return error(409, `Operation cannot be fulfilled on ${qualifiedName(r)} "${name}": ${why}`, 'Conflict', detailsOf(r, name));
}

export function invalid(r: ResourceType, name: string, field: string, message: string): KubeApiError {
  return error(422, `${r.kind} "${name}" is invalid: ${field}: ${message}`, 'Invalid', {
    ...detailsOf(r, name), kind: r.kind, causes: [{ reason: 'FieldValueInvalid', message, field }],
  });
}

export function badRequest(message: string): KubeApiError {
  return error(400, message, 'BadRequest');
}

export function expired(message: string): Status {
  return failure(410, message, 'Expired');
}

export function success(r: ResourceType, name: string, uid: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { ...detailsOf(r, name), uid } };
}
