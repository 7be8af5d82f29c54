import { describe, expect, it } from 'vitest';
import { parseHashBy } from '../../core/annotations/load-balance.ts';
import type { PickContext } from './balancer.ts';
import { argValue, cookieValue, hashKey, hostOf } from './hash-key.ts';

const ctx: PickContext = {
  url: '/cart/items?user=Ann&User=x&empty=&flag&q=a%20b',
  host: 'Shop.Example:8443',
  clientIp: '203.0.113.9',
  https: true,
  headers: { 'x-user-id': '42', cookie: 'a=1; SessionId=s-9 ; b=2', 'x-list': ['p', 'q'] },
  setCookie: null,
};

/** The key of an upstream-hash-by value for `ctx`. */
const key = (value: string, c: PickContext = ctx) => {
  const parts = parseHashBy(value);
  if (typeof parts === 'string') throw new Error(parts);
  return hashKey(parts)(c);
};

describe('upstream-hash-by keys (nginx variables)', () => {
  it.each([
    ['$request_uri', '/cart/items?user=Ann&User=x&empty=&flag&q=a%20b'],
    ['$remote_addr', '203.0.113.9'],
    ['$host', 'shop.example'],
    ['$http_x_user_id', '42'],
    ['$http_x_list', 'p, q'],
    ['$http_x_missing', ''],
    ['$cookie_SessionId', 's-9'],
    ['$cookie_sessionid', 's-9'],
    ['$cookie_missing', ''],
    ['$arg_user', 'Ann'],
    ['$arg_USER', 'Ann'],
    ['$arg_q', 'a%20b'],
    ['$arg_empty', ''],
    ['$arg_flag', ''],
    ['$arg_missing', ''],
    ['$host$request_uri', 'shop.example/cart/items?user=Ann&User=x&empty=&flag&q=a%20b'],
    ['${arg_user}-${http_x_user_id}', 'Ann-42'],
    ['v1_$remote_addr', 'v1_203.0.113.9'],
  ])('%s is %j', (value, want) => {
    expect(key(value)).toBe(want);
  });

  it('reads $host without a port, an IPv6 literal kept in brackets', () => {
    expect(hostOf('[2001:DB8::1]:443')).toBe('[2001:db8::1]');
    expect(hostOf('Example.com')).toBe('example.com');
    expect(hostOf('')).toBe('');
  });

  it('finds cookies and arguments only by whole name', () => {
    expect(cookieValue('xa=1; a=2', 'a')).toBe('2');
    expect(cookieValue('a=1', 'A')).toBeUndefined();
    expect(cookieValue('A=1', 'a', true)).toBe('1');
    expect(cookieValue(undefined, 'a')).toBeUndefined();
    expect(cookieValue('novalue; a=', 'a')).toBe('');
    expect(argValue('/p?xuser=1&user=2', 'user')).toBe('2');
    expect(argValue('/p', 'user')).toBeUndefined();
  });
});
