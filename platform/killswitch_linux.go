package platform

func newKillSwitchImpl(iface string, env *routerEnv) (killSwitchImpl, error) {
	return newNftKillSwitch(iface, env)
}
