module.exports = { ...require("../../jest.config.base.js"), testTimeout: 300_000 };
