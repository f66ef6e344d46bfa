// Stands in for the model modules that @kestra-io/kestra-sdk 0.24.1 requires but does not ship (see load.cjs).
// Those models (SLA labels, UI sidebar settings, the server edition) are not used by any call the contract test makes.
'use strict';

class MissingModel {
  static constructFromObject(data) {
    return data;
  }

  static validateJSON() {
    return true;
  }
}

exports.__esModule = true;
exports.default = MissingModel;
