import { describe, expect, it } from 'vitest';
import { readAuths, selectRegistryAuth } from './registry-auth.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

describe('selectRegistryAuth', () => {
  it('picks the Docker Hub entry for an image without a registry host (the seed config)', () => {
    const config = `{
      "auths": {
          "https://index.docker.io/v1/": {
              "username": "annageller",
              "password": "rendered-secret"
          }
      }
    }`;
    expect(selectRegistryAuth('annageller/kestra:latest', { config })).toEqual({
      serveraddress: 'https://index.docker.io/v1/',
      username: 'annageller',
      password: 'rendered-secret',
    });
    expect(selectRegistryAuth('ghcr.io/annageller/kestra', { config })).toBeUndefined();
  });

  it('matches keys written as host, host:port, https://host or http://host/v1/', () => {
    const config = {
      auths: {
        'ghcr.io': { username: 'g', password: 'gp' },
        'https://quay.io': { auth: b64('q:qp:with-colon') },
        'http://127.0.0.1:5000/v1/': { username: 'l', password: 'lp' },
      },
    };
    expect(selectRegistryAuth('ghcr.io/o/app:1', { config })).toMatchObject({ serveraddress: 'ghcr.io', username: 'g', password: 'gp' });
    expect(selectRegistryAuth('quay.io/o/app', { config })).toMatchObject({ username: 'q', password: 'qp:with-colon' });
    expect(selectRegistryAuth('127.0.0.1:5000/sluice/busybox:1', { config })).toMatchObject({
      serveraddress: '127.0.0.1:5000',
      username: 'l',
    });
    expect(selectRegistryAuth('127.0.0.1:5001/sluice/busybox:1', { config })).toBeUndefined();
    expect(selectRegistryAuth('python:3', { config })).toBeUndefined();
  });

  it('passes identity and registry tokens through', () => {
    expect(selectRegistryAuth('ghcr.io/o/a', { config: { auths: { 'ghcr.io': { identitytoken: 'idt' } } } })).toEqual({
      serveraddress: 'ghcr.io',
      identitytoken: 'idt',
    });
    expect(selectRegistryAuth('ghcr.io/o/a', { credentials: { registryToken: 'rt' } })).toEqual({
      serveraddress: 'ghcr.io',
      registrytoken: 'rt',
    });
  });

  it('prefers credentials, and never sends them to another registry', () => {
    const config = { auths: { 'ghcr.io': { username: 'from-config', password: 'x' } } };
    expect(selectRegistryAuth('ghcr.io/o/a', { config, credentials: { username: 'cred', password: 'p' } })).toMatchObject({
      username: 'cred',
    });
    expect(
      selectRegistryAuth('ghcr.io/o/a', { config, credentials: { registry: 'https://ghcr.io', auth: b64('cred2:p2') } }),
    ).toMatchObject({ username: 'cred2', password: 'p2' });
    expect(
      selectRegistryAuth('ghcr.io/o/a', { config, credentials: { registry: 'quay.io', username: 'cred', password: 'p' } }),
    ).toMatchObject({ username: 'from-config' });
    expect(selectRegistryAuth('python', { credentials: { registry: 'docker.io', username: 'hub', password: 'p' } })).toMatchObject({
      serveraddress: 'https://index.docker.io/v1/',
      username: 'hub',
    });
  });

  it('returns undefined without any usable entry', () => {
    expect(selectRegistryAuth('python', {})).toBeUndefined();
    expect(selectRegistryAuth('python', { config: '' })).toBeUndefined();
    expect(selectRegistryAuth('python', { config: { credsStore: 'desktop' } })).toBeUndefined();
    expect(selectRegistryAuth('python', { config: { auths: { 'docker.io': {} } } })).toBeUndefined();
  });
});

describe('readAuths', () => {
  it('rejects malformed configs without echoing their content', () => {
    expect(() => readAuths('{"auths": {"x": {"password": "s3cret"')).toThrow(
      expect.objectContaining({ code: 'SLU_RUNNER_START_FAILED', message: expect.not.stringContaining('s3cret') }),
    );
    expect(() => readAuths('[1]')).toThrow(/mapping/);
    expect(() => readAuths({ auths: [] })).toThrow(/auths/);
  });

  it('rejects an auth that is not base64 of user:password', () => {
    expect(() => selectRegistryAuth('ghcr.io/a/b', { config: { auths: { 'ghcr.io': { auth: b64('nocolon') } } } })).toThrow(
      /username:password/,
    );
  });
});
