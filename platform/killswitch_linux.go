package platform

const killSwitchSupported = true
