//go:build !linux && !windows

package platform

// No kill switch here yet (pf would do it on macOS).
func newKillSwitchImpl(iface string, env *routerEnv) (killSwitchImpl, error) {
	return nil, ErrNoKillSwitch
}
