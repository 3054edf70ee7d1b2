package platform

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// resolvConfHeader starts every resolv.conf the Router writes.
const resolvConfHeader = "# written by Corridor for %s; the original is restored on disconnect\n"

// resolvConfContent is the resolv.conf that sends lookups to dns.
func resolvConfContent(iface string, dns []netip.Addr, domains []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, resolvConfHeader, iface)
	for _, a := range dns {
		fmt.Fprintf(&b, "nameserver %s\n", a)
	}
	if len(domains) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(domains, " "))
	}
	return b.Bytes()
}

// fileBackup is what a file was before the Router replaced it, kept in the
// journal: its bytes, permission bits and owner, or the target when it was a
// symbolic link (as /etc/resolv.conf often is), or that it did not exist.
type fileBackup struct {
	Path    string `json:"path"`
	Exists  bool   `json:"exists"`
	Symlink string `json:"symlink,omitempty"`
	Mode    uint32 `json:"mode,omitempty"`
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
	Data    []byte `json:"data,omitempty"`
	// Written is the SHA-256 of what the Router wrote in its place. When
	// the file no longer holds that, someone else (a DHCP client, the
	// user) has replaced it since, and restoring the backup would undo
	// their newer change: the file is then left alone.
	Written string `json:"written_sha256,omitempty"`
}

// fileWrite replaces a file.
type fileWrite struct {
	path     string
	data     []byte
	mode     fs.FileMode
	uid, gid int
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// captureFile records path as it is now.
func captureFile(path string) (*fileBackup, error) {
	b := &fileBackup{Path: path, UID: -1, GID: -1}
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("platform: backing up %s: %w", path, err)
	}
	b.Exists = true
	if fi.Mode()&fs.ModeSymlink != 0 {
		if b.Symlink, err = os.Readlink(path); err != nil {
			return nil, fmt.Errorf("platform: backing up %s: %w", path, err)
		}
		return b, nil
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("platform: backing up %s: not a regular file (%v)", path, fi.Mode())
	}
	b.Mode = uint32(fi.Mode().Perm())
	b.UID, b.GID = fileOwner(fi)
	if b.Data, err = os.ReadFile(path); err != nil {
		return nil, fmt.Errorf("platform: backing up %s: %w", path, err)
	}
	if b.Data == nil {
		b.Data = []byte{}
	}
	return b, nil
}

// writeFileReplacing replaces path with data atomically (writeFileAtomic).
// When path is a mount point (a file bind-mounted over /etc/resolv.conf, as
// container runtimes do) the rename fails with EBUSY and the file is
// rewritten in place instead, which is the only way to change it. uid and
// gid are set when not -1.
func writeFileReplacing(path string, data []byte, mode fs.FileMode, uid, gid int) error {
	err := writeFileAtomic(path, data, mode, uid, gid)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.EBUSY) && !errors.Is(err, syscall.EXDEV) {
		return fmt.Errorf("platform: writing %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("platform: writing %s in place: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = setModeOwner(path, mode, uid, gid)
	}
	if err != nil {
		return fmt.Errorf("platform: writing %s in place: %w", path, err)
	}
	return nil
}

// setModeOwner sets the permission bits exactly (the umask narrowed them at
// creation) and the owner.
func setModeOwner(path string, mode fs.FileMode, uid, gid int) error {
	if err := os.Chmod(path, mode); err != nil {
		return err
	}
	if uid >= 0 || gid >= 0 {
		return os.Chown(path, uid, gid)
	}
	return nil
}

// restoreFile puts back what b recorded, unless the file has been replaced
// by someone else since the Router wrote it.
func restoreFile(b *fileBackup, log *slog.Logger) error {
	if b.Written != "" {
		cur, err := os.ReadFile(b.Path)
		if err == nil && sha256Hex(cur) != b.Written {
			log.Warn("file changed by someone else since it was written; leaving it", "path", b.Path)
			return nil
		}
	}
	switch {
	case !b.Exists:
		if err := os.Remove(b.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("platform: restoring %s: %w", b.Path, err)
		}
	case b.Symlink != "":
		dir := filepath.Dir(b.Path)
		tmp := filepath.Join(dir, fmt.Sprintf(".%s.corridor-%d", filepath.Base(b.Path), os.Getpid()))
		os.Remove(tmp)
		if err := os.Symlink(b.Symlink, tmp); err != nil {
			return fmt.Errorf("platform: restoring %s: %w", b.Path, err)
		}
		if err := os.Rename(tmp, b.Path); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("platform: restoring %s: %w", b.Path, err)
		}
		syncDir(dir)
	default:
		if err := writeFileReplacing(b.Path, b.Data, fs.FileMode(b.Mode)&fs.ModePerm, b.UID, b.GID); err != nil {
			return fmt.Errorf("platform: restoring %w", err)
		}
	}
	log.Debug("restored", "path", b.Path)
	return nil
}

// One resolv.conf, several tunnels. A resolv.conf cannot send each domain
// to its own tunnel's servers (the resolver asks its nameservers in order
// and takes the first answer, "no such name" included), and two Routers
// each replacing the file and restoring their own backup, in whatever
// order they go, would leave one tunnel's file behind. So the file has one
// owner at a time: the first Router (of this process) whose tunnel asks
// for DNS writes it and alone journals the original; a later tunnel's DNS
// is not applied while the owner holds the file, which its Router says
// (DNSNote) and logs. When the owner goes, the original comes back; a
// later Set of the other tunnel's Router (the helper makes one when a
// tunnel goes) then takes the file over, journaling the original anew. With
// systemd-resolved each tunnel's link gets its own servers and domains
// instead (resolvedItem), and nothing is shared.
var resolvConfOwners = struct {
	sync.Mutex
	m map[string]string // path -> interface
}{m: map[string]string{}}

// claimResolvConf makes iface the owner of path, unless another interface
// owns it (returned).
func claimResolvConf(path, iface string) (owner string, ok bool) {
	resolvConfOwners.Lock()
	defer resolvConfOwners.Unlock()
	if o, held := resolvConfOwners.m[path]; held && o != iface {
		return o, false
	}
	resolvConfOwners.m[path] = iface
	return iface, true
}

// releaseResolvConf ends iface's ownership of path.
func releaseResolvConf(path, iface string) {
	resolvConfOwners.Lock()
	defer resolvConfOwners.Unlock()
	if resolvConfOwners.m[path] == iface {
		delete(resolvConfOwners.m, path)
	}
}

// writtenFor returns the interface a resolv.conf written by Corridor names
// in its first line ("" when data is not such a file).
func writtenFor(data []byte) string {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	rest, ok := bytes.CutPrefix(line, []byte("# written by Corridor for "))
	if !ok {
		return ""
	}
	iface, _, _ := bytes.Cut(rest, []byte(";"))
	return string(iface)
}

// resolvConfItem replaces the resolv.conf file at path, when no other
// tunnel holds it.
func resolvConfItem(c *NetConfig, env *routerEnv) item {
	path := env.resolvConf
	iface, dns, domains := c.Interface, c.DNS, c.Domains
	return item{
		key: dnsKey("resolv.conf "+path, c),
		plan: func() (*change, error) {
			skip := func(owner string) (*change, error) {
				env.dnsNote = fmt.Sprintf("DNS servers %v not set: %s already carries the DNS of the tunnel on %s, "+
					"and without systemd-resolved one resolv.conf cannot send each tunnel's names to its own servers", dns, path, owner)
				env.log.Warn("resolv.conf held by another tunnel; this tunnel's DNS is not applied", "path", path, "owner", owner, "interface", iface)
				return &change{skipped: true}, nil
			}
			owner, ok := claimResolvConf(path, iface)
			if !ok {
				return skip(owner)
			}
			b, err := captureFile(path)
			if err != nil {
				releaseResolvConf(path, iface)
				return nil, err
			}
			if other := writtenFor(b.Data); other != "" && other != iface {
				// Another process's Router (corridor connect beside the
				// helper) holds it: its journal has the original.
				if _, err := os.Lstat(journalPath(env.journalDir, other)); err == nil {
					releaseResolvConf(path, iface)
					return skip(other)
				}
			}
			if bytes.HasPrefix(b.Data, []byte("# written by Corridor")) {
				env.log.Warn("resolv.conf was written by an earlier Corridor whose journal is lost; keeping it as the original", "path", path)
			}
			env.dnsNote = ""
			data := resolvConfContent(iface, dns, domains)
			b.Written = sha256Hex(data)
			w := &fileWrite{path: path, data: data, mode: 0o644, uid: -1, gid: -1}
			if b.Exists && b.Symlink == "" {
				w.mode, w.uid, w.gid = fs.FileMode(b.Mode), b.UID, b.GID
			}
			return &change{write: w, undo: journalEntry{Restore: b}}, nil
		},
	}
}
