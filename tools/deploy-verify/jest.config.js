module.exports = { ...require("../../jest.config.base.js"), globalSetup: "<rootDir>/jest.global-setup.js" };
