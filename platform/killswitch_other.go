//go:build !linux && !windows && !darwin

package platform

// No kill switch on this system.
func newKillSwitchImpl(iface string, env *routerEnv) (killSwitchImpl, error) {
	return nil, ErrNoKillSwitch
}
