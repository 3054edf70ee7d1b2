package platform

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// The registry and the DNS cache of the ipHelper (winNet), for the NRPT
// rules of split DNS (nrpt.go). Compiled for windows; the registry calls
// have run under Wine (build/wine/wine-test.sh, TestNRPTRegistryWine),
// never on Windows.

func (ipHelper) SetRegValues(key string, values []regValue) error {
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, key, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("creating HKLM\\%s: %w", key, err)
	}
	defer k.Close()
	for _, v := range values {
		switch v.Kind {
		case regSZ:
			err = k.SetStringValue(v.Name, v.Str)
		case regMultiSZ:
			err = k.SetStringsValue(v.Name, v.Strs)
		case regDWORD:
			err = k.SetDWordValue(v.Name, v.DWord)
		default:
			err = fmt.Errorf("unknown value type %d", v.Kind)
		}
		if err != nil {
			return fmt.Errorf("setting %s in HKLM\\%s: %w", v.Name, key, err)
		}
	}
	return nil
}

// DeleteRegKey returns registry.ErrNotExist (ERROR_FILE_NOT_FOUND, which
// is errFileNotFound) for a key that is not there.
func (ipHelper) DeleteRegKey(key string) error {
	return registry.DeleteKey(registry.LOCAL_MACHINE, key)
}

func (ipHelper) RegKeyExists(key string) (bool, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, key, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	k.Close()
	return true, nil
}

var procDnsFlushResolverCache = windows.NewLazySystemDLL("dnsapi.dll").NewProc("DnsFlushResolverCache")

// FlushDNSCache calls DnsFlushResolverCache (dnsapi.dll; undocumented but
// what "ipconfig /flushdns" calls), which returns FALSE on failure.
func (ipHelper) FlushDNSCache() error {
	if err := procDnsFlushResolverCache.Find(); err != nil {
		return err
	}
	r, _, err := procDnsFlushResolverCache.Call()
	if r == 0 {
		return fmt.Errorf("DnsFlushResolverCache failed: %w", err)
	}
	return nil
}
