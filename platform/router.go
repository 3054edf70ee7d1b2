package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// NetConfig is what a connected session wants from the OS, beyond the
// device address/MTU/peer route that OpenTUN already sets.
type NetConfig struct {
	Interface     string         // TUN device name
	Local         netip.Addr     // address assigned by IPCP
	Server        netip.Addr     // outer address of the VPN server
	FullTunnel    bool           // route all IPv4 through the device
	Routes        []netip.Prefix // split tunnel: these prefixes via the device
	ClassfulRoute bool           // also route Local's classful network (A /8, B /16, C /24), as Windows does when asked
	DNS           []netip.Addr   // nameservers to use (IPv4 and IPv6); empty: DNS untouched
	Domains       []string       // search domains

	// IPv6 inside the tunnel (the session's IPv6 configuration, from the
	// server's router advertisement or DHCPv6): the device's global
	// addresses, the IPv6 prefixes routed through it, and Default6, all
	// of IPv6 through it (::/1 and 8000::/1, more specific than the
	// system's IPv6 default route, as the IPv4 halves are). With
	// FullTunnel and without Default6, IPv6 is blocked as described on
	// Router. Link-local addresses are not listed: the device has its
	// own from IPV6CP.
	Addrs6   []netip.Prefix
	Routes6  []netip.Prefix
	Default6 bool
}

// Router applies a NetConfig to the OS, in the style of tailscale's
// wgengine/router: the caller says what it wants and the Router computes and
// applies the difference from what it did before.
//
// Every change is journaled before it is made: the journal,
// <journal dir>/<interface>.json, lists the undo action of each change in
// force, so that Close, or Recover after a crash, restores the system even
// when the process that made the changes is gone.
//
// Routes to the VPN server: when the routes through the device would also
// cover the server's own (outer) address, as a full tunnel does, the Router
// first pins a host route to the server through the path it had before,
// so that the encrypted packets do not loop into the tunnel. The default
// route itself is never touched: a full tunnel adds 0.0.0.0/1 and
// 128.0.0.0/1, which are more specific and vanish with the device. The
// host route is looked up when the server first needs one; after the machine
// moves to another network, Set(nil) and Set(cfg) pin it again.
//
// IPv6: when the session carries no IPv6 (or the server offered no IPv6
// default router: Default6 unset), a full tunnel makes the two
// halves of the IPv6 space, ::/1 and 8000::/1, unreachable while it is in
// force (journaled and undone like the IPv4 routes), and IPv6 cannot leave
// outside the tunnel: on Linux unreachable routes ("ip -6 route add
// unreachable ::/1 metric 1"), on macOS reject routes ("route -n add
// -inet6 ::/1 ::1 -reject"), on Windows routes into the Corridor adapter,
// where the tunnel drops them (Windows routes have no unreachable type).
// A machine without IPv6 (Linux: no if_inet6; Windows: the adapter has no
// IPv6) is left alone. A split tunnel leaves IPv6 untouched but for
// Routes6. With Default6 the two halves go through the device instead,
// and Addrs6 and Routes6 are set on it (journaled and undone like the
// IPv4 routes). The macOS and Windows IPv6 items are compiled and tested
// with fakes only.
//
// A route that already exists (added by someone else) is left alone and not
// removed later. Undo tolerates what is already gone: the kernel drops a
// device's routes when the device goes, so Close may run before or after the
// TUN is closed.
type Router interface {
	// Set converges the OS to cfg; nil removes everything this Router did.
	// When a change fails, Set stops and returns the error; the changes
	// made so far stay in force and in the journal, and a later Set or
	// Close converges from there.
	Set(cfg *NetConfig) error
	// Close is Set(nil).
	Close() error
}

// DNSBackend selects how the Router configures DNS on Linux. Other systems
// have a single way and ignore it.
type DNSBackend int

const (
	// DNSAuto uses systemd-resolved when it runs (/run/systemd/resolve/
	// exists and "resolvectl status" succeeds), else resolv.conf.
	DNSAuto DNSBackend = iota
	// DNSResolved configures the interface's link in systemd-resolved
	// with resolvectl.
	DNSResolved
	// DNSResolvConf rewrites the resolv.conf file, keeping the original in
	// the journal.
	DNSResolvConf
)

func (b DNSBackend) String() string {
	switch b {
	case DNSAuto:
		return "auto"
	case DNSResolved:
		return "systemd-resolved"
	case DNSResolvConf:
		return "resolv.conf"
	}
	return fmt.Sprintf("DNSBackend(%d)", int(b))
}

// RouterOption adjusts NewRouter and Recover.
type RouterOption func(*routerOptions)

type routerOptions struct {
	runner      Runner
	journalDir  string
	resolvConf  string
	resolvedDir string
	dns         DNSBackend
	log         *slog.Logger
	inet6File   string // exists when the kernel has IPv6
}

// WithRouterRunner makes the Router run OS commands through r instead of
// executing them.
func WithRouterRunner(r Runner) RouterOption {
	return func(o *routerOptions) { o.runner = r }
}

// WithJournalDir sets the directory of the journals. The default is
// /var/lib/corridor/journal on Linux (on disk, so that a resolv.conf
// rewritten before a power cut is restored after it; see journal.go),
// /var/run/corridor/journal on macOS (which has no /run; its DNS settings
// live in the dynamic store and die with the boot anyway) and
// %ProgramData%\Corridor\journal on Windows.
func WithJournalDir(dir string) RouterOption {
	return func(o *routerOptions) { o.journalDir = dir }
}

// WithResolvConf sets the resolv.conf file the DNSResolvConf backend rewrites
// (default /etc/resolv.conf). It is also the only file a journal may
// restore.
func WithResolvConf(path string) RouterOption {
	return func(o *routerOptions) { o.resolvConf = path }
}

// WithRouterLogger sets the logger for the commands run and the changes made.
func WithRouterLogger(l *slog.Logger) RouterOption {
	return func(o *routerOptions) { o.log = l }
}

// WithDNSBackend forces the Linux DNS backend instead of detecting it.
func WithDNSBackend(b DNSBackend) RouterOption {
	return func(o *routerOptions) { o.dns = b }
}

// withInet6File replaces /proc/net/if_inet6 for detecting IPv6 (tests
// only).
func withInet6File(path string) RouterOption {
	return func(o *routerOptions) { o.inet6File = path }
}

// withResolvedDir replaces /run/systemd/resolve for detection (tests only).
func withResolvedDir(dir string) RouterOption {
	return func(o *routerOptions) { o.resolvedDir = dir }
}

func buildRouterOptions(opts []RouterOption) routerOptions {
	o := routerOptions{
		runner:      ExecRunner{},
		journalDir:  defaultJournalDir(runtime.GOOS),
		resolvConf:  "/etc/resolv.conf",
		resolvedDir: "/run/systemd/resolve",
		inet6File:   "/proc/net/if_inet6",
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o
}

func defaultJournalDir(goos string) string {
	if goos == "windows" {
		base := os.Getenv("ProgramData")
		if base == "" {
			base = `C:\ProgramData`
		}
		return base + `\Corridor\journal`
	}
	if goos == "darwin" {
		// macOS has no /run (the system volume is read-only); /var/run is
		// its tmpfs-like equivalent, emptied at boot.
		return "/var/run/corridor/journal"
	}
	return "/var/lib/corridor/journal"
}

// legacyJournalDir is where Linux journals lived before they moved to disk;
// Recover replays journals left there by an older helper too.
const legacyJournalDir = "/run/corridor/journal"

// routerEnv is what the per-OS planners use: the runner, the files, the
// logger. It also executes changes and their undo actions.
type routerEnv struct {
	routerOptions
	detected DNSBackend // cached result of DNSAuto detection
	// dnsNote says why the DNS asked for is not applied ("" when it is,
	// or none was asked for): resolv.conf is held by another tunnel.
	dnsNote string
}

// item is one thing the OS should have, named by a key that identifies it
// across Set calls. plan is called just before the item is applied, after
// the items before it; it may run read-only commands (the route to the
// server) and returns the change and its undo.
type item struct {
	key string
	// route is the prefix when the item routes it through the device.
	route netip.Prefix
	// host is the server's address when the item pins its host route.
	host netip.Addr
	// removeLast: when no longer wanted, the item is undone after the
	// new items are in force, not before (Linux's IPv6 block, so that
	// IPv6 routed through the device replaces it without a moment in
	// which IPv6 could leave outside the tunnel).
	removeLast bool
	plan       func() (*change, error)
}

// change is one step: commands to run, or a file to write, and how to undo
// it.
type change struct {
	do    []Command
	write *fileWrite
	undo  journalEntry
	// existsOK: a do command failing because the thing already exists
	// (a route someone else added) leaves it alone and records no undo.
	existsOK bool
	// noIPv6OK: a do command failing because the kernel has no IPv6
	// (EAFNOSUPPORT) is skipped: there is no IPv6 to block.
	noIPv6OK bool
	// skipped: the item cannot be had now (resolv.conf is another
	// tunnel's); nothing is done or journaled, and the next Set plans it
	// again.
	skipped bool
}

// applied is an item in force. entry is nil for one that existed before
// (existsOK): nothing to undo.
type applied struct {
	key        string
	route      netip.Prefix
	retry      bool // skipped (change.skipped): planned again by the next Set
	removeLast bool // item.removeLast
	entry      *journalEntry
}

type router struct {
	mu      sync.Mutex
	env     *routerEnv
	build   func(cfg *NetConfig, env *routerEnv) ([]item, error)
	iface   string
	applied []applied
}

// newRouter is NewRouter with the per-OS planner given; tests call it with
// every OS's planner.
func newRouter(build func(*NetConfig, *routerEnv) ([]item, error), opts ...RouterOption) *router {
	return &router{env: &routerEnv{routerOptions: buildRouterOptions(opts)}, build: build}
}

func (r *router) Close() error { return r.Set(nil) }

// DNSNote says why the DNS of the last Set is not in force, or "" (see
// resolvConfItem).
func (r *router) DNSNote() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.env.dnsNote
}

// releaseIfOwner ends this Router's hold on resolv.conf when en restored
// it.
func (r *router) releaseIfOwner(en *journalEntry, iface string) {
	if en != nil && en.Restore != nil && en.Restore.Path == r.env.resolvConf {
		releaseResolvConf(en.Restore.Path, iface)
	}
}

func (r *router) Set(cfg *NetConfig) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cfg == nil {
		return r.clear()
	}
	c, err := cfg.normalize()
	if err != nil {
		return err
	}
	items, err := r.build(&c, r.env)
	if err != nil {
		return err
	}
	if c.Interface != r.iface {
		if r.iface != "" {
			if err := r.clear(); err != nil {
				return err
			}
		}
		if err := r.adopt(c.Interface); err != nil {
			return err
		}
		r.iface = c.Interface
	}

	want := make(map[string]bool, len(items))
	var host netip.Addr
	hostKey := ""
	for _, it := range items {
		want[it.key] = true
		if it.host.IsValid() {
			host, hostKey = it.host, it.key
		}
	}
	have := make(map[string]bool, len(r.applied))
	for _, a := range r.applied {
		have[a.key] = true
	}
	// A new host route to the server is planned from the route the server
	// has now; routes through the device that cover it must go first, and
	// come back after it.
	newHost := hostKey != "" && !have[hostKey]
	var removed, added int
	for i := len(r.applied) - 1; i >= 0; i-- {
		a := r.applied[i]
		if want[a.key] && !a.retry && !(newHost && a.route.IsValid() && a.route.Contains(host)) {
			continue
		}
		if a.removeLast && !want[a.key] {
			continue // below, once the new items are in
		}
		if err := r.remove(i); err != nil {
			return err
		}
		removed++
	}
	have = make(map[string]bool, len(r.applied))
	for _, a := range r.applied {
		have[a.key] = true
	}
	for _, it := range items {
		if have[it.key] {
			continue
		}
		if err := r.add(it); err != nil {
			return err
		}
		added++
	}
	for i := len(r.applied) - 1; i >= 0; i-- {
		if a := r.applied[i]; a.removeLast && !want[a.key] {
			if err := r.remove(i); err != nil {
				return err
			}
			removed++
		}
	}
	r.env.log.Info("router set", "interface", c.Interface, "full_tunnel", c.FullTunnel,
		"routes", len(c.Routes), "dns", len(c.DNS), "addrs6", len(c.Addrs6), "routes6", len(c.Routes6), "default6", c.Default6, "removed", removed, "added", added, "in_force", len(r.applied))
	return nil
}

// clear undoes everything, newest first. An undo that fails stays in the
// journal (and in force) for a later Close or Recover.
func (r *router) clear() error {
	var errs []error
	for i := len(r.applied) - 1; i >= 0; i-- {
		if err := r.remove(i); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if r.iface != "" {
		r.env.log.Info("router cleared", "interface", r.iface)
	}
	r.iface, r.env.dnsNote = "", ""
	return nil
}

// remove undoes r.applied[i] and then drops it from the journal: a crash
// in between only makes Recover undo it again, which tolerates that.
func (r *router) remove(i int) error {
	a := r.applied[i]
	if a.entry != nil {
		if err := r.env.undo(a.entry); err != nil {
			return fmt.Errorf("platform: undoing %s on %s: %w", a.key, r.iface, err)
		}
		r.releaseIfOwner(a.entry, r.iface)
	}
	r.applied = append(r.applied[:i:i], r.applied[i+1:]...)
	return r.save()
}

// add plans it, journals the undo, and only then makes the change.
func (r *router) add(it item) error {
	ch, err := it.plan()
	if err != nil {
		return err
	}
	if ch.skipped {
		r.applied = append(r.applied, applied{key: it.key, route: it.route, retry: true, removeLast: it.removeLast})
		return r.save()
	}
	entry := ch.undo
	entry.Key = it.key
	r.applied = append(r.applied, applied{key: it.key, route: it.route, removeLast: it.removeLast, entry: &entry})
	last := len(r.applied) - 1
	if err := r.save(); err != nil {
		r.applied = r.applied[:last]
		r.releaseIfOwner(&entry, r.iface)
		return err
	}
	err = r.env.do(ch)
	if err == nil {
		return nil
	}
	if ch.existsOK && isExists(err) {
		r.env.log.Warn("already present, leaving it to its owner", "item", it.key, "err", err)
		r.applied[last].entry = nil
		return r.save()
	}
	if ch.noIPv6OK && isNoIPv6(err) {
		r.env.log.Debug("IPv6 is not supported here: skipped", "item", it.key, "err", err)
		r.applied[last].entry = nil
		return r.save()
	}
	// Half done (one command of several) or not at all: undo tolerates both.
	if uerr := r.env.undo(&entry); uerr != nil {
		return errors.Join(err, fmt.Errorf("platform: undoing failed %s: %w", it.key, uerr))
	}
	r.applied = r.applied[:last]
	r.releaseIfOwner(&entry, r.iface)
	return errors.Join(err, r.save())
}

// adopt replays a journal that an earlier process left for iface (it
// crashed and nobody ran Recover), so that its changes, and above all its
// backup of resolv.conf, are not mistaken for the original state. A journal
// that is not trusted (journaltrust.go) stops Set: it is left in place, and
// the Router must not overwrite it.
func (r *router) adopt(iface string) error {
	path := journalPath(r.env.journalDir, iface)
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := checkJournalDir(r.env.journalDir); err != nil {
		r.env.log.Error("journal not trusted", "err", err)
		return err
	}
	j, err := readTrustedJournal(path, r.env.resolvConf)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		r.env.log.Error("journal not trusted", "err", err)
		return err
	}
	r.env.log.Warn("replaying a journal left by an earlier process", "path", path, "pid", j.PID, "entries", len(j.Entries))
	return replayJournal(r.env, path, j)
}

// save writes the journal of what is in force (or removes it when nothing
// is).
func (r *router) save() error {
	var entries []journalEntry
	for _, a := range r.applied {
		if a.entry != nil {
			entries = append(entries, *a.entry)
		}
	}
	return writeJournal(r.env.journalDir, r.iface, entries)
}

// do makes a change.
func (e *routerEnv) do(ch *change) error {
	for _, c := range ch.do {
		if _, err := e.exec(c); err != nil {
			return err
		}
	}
	if w := ch.write; w != nil {
		e.log.Debug("platform write", "path", w.path, "bytes", len(w.data))
		if err := writeFileReplacing(w.path, w.data, w.mode, w.uid, w.gid); err != nil {
			return err
		}
	}
	return nil
}

// undo runs an undo entry, tolerating things already gone.
func (e *routerEnv) undo(en *journalEntry) error {
	var errs []error
	if en.Restore != nil {
		if err := restoreFile(en.Restore, e.log); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range en.Undo {
		if _, err := e.exec(c); err != nil && !isGone(err) {
			errs = append(errs, err)
		} else if err != nil {
			e.log.Debug("already gone", "cmd", c.String(), "err", err)
		}
	}
	return errors.Join(errs...)
}

// exec runs c and returns its standard output.
func (e *routerEnv) exec(c Command) ([]byte, error) {
	if c.Stdin != "" {
		e.log.Debug("platform command", "cmd", c.String(), "stdin", c.Stdin)
	} else {
		e.log.Debug("platform command", "cmd", c.String())
	}
	if len(c.Args) > 0 && c.Args[0] == "route" {
		return runDarwinRoute(e.runner, c)
	}
	return e.runner.Run(c)
}

// Recover undoes what Routers of earlier processes left behind: it replays
// every journal in the journal directory, newest change first, tolerating
// things already gone, and removes each journal it fully replayed (and the
// directory, when empty). Call it when the privileged helper starts, before
// it creates a Router: it does not know which journals belong to a live
// Router.
//
// Only a trusted journal is replayed (journaltrust.go): its directory and
// file owned by root and writable by nobody else, and every action in it
// one the Router journals. One that is not is left in place, and the error
// (matching ErrUntrustedJournal) says why. Give Recover the WithResolvConf
// of the Routers whose journals it replays: no other file is restored.
func Recover(opts ...RouterOption) error {
	env := &routerEnv{routerOptions: buildRouterOptions(opts)}
	err := recoverDir(env, env.journalDir)
	if runtime.GOOS == "linux" && env.journalDir == defaultJournalDir("linux") {
		err = errors.Join(err, recoverDir(env, legacyJournalDir))
	}
	return err
}

func recoverDir(env *routerEnv, dir string) error {
	err := checkJournalDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		// Where the owner and mode do not say who may write (Windows),
		// the directory's ACL must (journaldir_windows.go).
		err = checkJournalDirOS(dir)
	}
	if err != nil {
		// Nothing in it is touched, not even temporary files.
		env.log.Error("journal directory not trusted", "err", err)
		return err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("platform: reading journals: %w", err)
	}
	var errs []error
	for _, de := range des {
		name := de.Name()
		path := filepath.Join(dir, name)
		if isJournalTemp(name) && de.Type().IsRegular() {
			os.Remove(path) // a journal write that never completed
			continue
		}
		if !strings.HasSuffix(name, journalExt) || de.IsDir() {
			continue
		}
		j, err := readTrustedJournal(path, env.resolvConf)
		if err != nil {
			if errors.Is(err, ErrUntrustedJournal) {
				env.log.Error("journal not trusted", "err", err)
			}
			errs = append(errs, err)
			continue
		}
		env.log.Info("recovering", "journal", path, "interface", j.Interface, "pid", j.PID, "entries", len(j.Entries))
		if err := replayJournal(env, path, j); err != nil {
			errs = append(errs, err)
		}
	}
	os.Remove(dir) // only when empty
	return errors.Join(errs...)
}
