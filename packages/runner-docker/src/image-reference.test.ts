import { describe, expect, it } from 'vitest';
import { normalizeRegistry, parseImageReference } from './image-reference.js';

describe('parseImageReference', () => {
  it.each([
    ['python', 'docker.io', 'python', 'latest'],
    ['python:3.13-slim', 'docker.io', 'python', '3.13-slim'],
    ['annageller/kestra:latest', 'docker.io', 'annageller/kestra', 'latest'],
    ['docker.io/library/ubuntu', 'docker.io', 'docker.io/library/ubuntu', 'latest'],
    ['ghcr.io/kestra-io/pydata:latest', 'ghcr.io', 'ghcr.io/kestra-io/pydata', 'latest'],
    ['127.0.0.1:5000/sluice/busybox:1', '127.0.0.1:5000', '127.0.0.1:5000/sluice/busybox', '1'],
    ['localhost/app', 'localhost', 'localhost/app', 'latest'],
    ['Registry.Example.COM:8443/team/app', 'registry.example.com:8443', 'Registry.Example.COM:8443/team/app', 'latest'],
    ['sluice-test/busybox:1', 'docker.io', 'sluice-test/busybox', '1'],
    ['alpine@sha256:abcd', 'docker.io', 'alpine', 'sha256:abcd'],
    ['ghcr.io/o/app:1@sha256:abcd', 'ghcr.io', 'ghcr.io/o/app:1', 'sha256:abcd'],
  ])('%s → registry %s', (image, registry, repository, tag) => {
    expect(parseImageReference(image)).toEqual({ registry, repository, tag });
  });
});

describe('normalizeRegistry', () => {
  it.each([
    ['https://index.docker.io/v1/', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['http://127.0.0.1:5000/v1/', '127.0.0.1:5000'],
    ['https://GHCR.io', 'ghcr.io'],
    ['ghcr.io', 'ghcr.io'],
    ['host:5000', 'host:5000'],
  ])('%s → %s', (key, registry) => {
    expect(normalizeRegistry(key)).toBe(registry);
  });
});
