// Loads Kestra's published JavaScript client, @kestra-io/kestra-sdk 0.24.1 (the only version on npm), unchanged.
//
// As published it cannot be required: index.js and a few models require five model files the package does not contain
// (SLALabels, LeftSidebarConfiguration, MiscControllerEdition, RightSidebarConfiguration,
// RightSidebarConfigurationCustomLink), so `require('@kestra-io/kestra-sdk')` throws MODULE_NOT_FOUND for every user.
// Only those five requests, and only from inside the SDK, resolve to a stand-in (missing-model.cjs); every other module
// of the SDK is its own.
'use strict';

const Module = require('node:module');
const path = require('node:path');

const MISSING = /(^|\/)(SLALabels|LeftSidebarConfiguration|MiscControllerEdition|RightSidebarConfiguration|RightSidebarConfigurationCustomLink)$/;
const standIn = path.join(__dirname, 'missing-model.cjs');
const sdkFolder = `${path.sep}@kestra-io${path.sep}kestra-sdk${path.sep}`;

const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveFilename(request, parent, ...rest) {
  try {
    return resolve.call(this, request, parent, ...rest);
  } catch (error) {
    if (MISSING.test(request) && parent && typeof parent.filename === 'string' && parent.filename.includes(sdkFolder)) return standIn;
    throw error;
  }
};

try {
  module.exports = require('@kestra-io/kestra-sdk');
} finally {
  Module._resolveFilename = resolve;
}
