package platform

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The journal of a Router is <dir>/<interface>.json:
//
//	{"version": 1, "interface": "corridor0", "pid": 4242, "boot_id": "8e3c...",
//	 "entries": [
//	  {"key": "host 203.0.113.5", "undo": [{"args": ["ip", "-4", "route", "del", "203.0.113.5/32", "via", "192.0.2.1", "dev", "eth0"]}]},
//	  {"key": "route 0.0.0.0/1", "undo": [{"args": ["ip", "-4", "route", "del", "0.0.0.0/1", "dev", "corridor0"]}]},
//	  {"key": "dns resolv.conf ...", "restore": {"path": "/etc/resolv.conf", "exists": true, "mode": 420, "data": "<base64>", ...}}]}
//
// Entries are in the order the changes were made; undoing runs them
// backwards. The file is replaced atomically (temp file, fsync, rename,
// fsync of the directory) before each change is made, so after a crash it
// lists every change that may be in force, and possibly one that was not
// made yet, whose undo then finds nothing to remove.
//
// The journal outlives a reboot (it is kept on disk): a resolv.conf
// rewritten before a power cut is still put back. Routes and addresses die
// with the boot, so the commands of a journal from an earlier boot (its
// boot_id differs from the running kernel's) are not run: an identical
// route someone added since would be deleted otherwise.
//
// Replay runs as root, so a journal is replayed only when root alone can
// have written it and it holds only what the Router writes: see
// journaltrust.go.

const (
	journalVersion = 1
	journalExt     = ".json"
)

type journalFile struct {
	Version   int            `json:"version"`
	Interface string         `json:"interface"`
	PID       int            `json:"pid"`
	BootID    string         `json:"boot_id,omitempty"` // "" where the OS has none
	Entries   []journalEntry `json:"entries"`
}

// bootIDFile holds the Linux kernel's random ID of this boot; elsewhere it
// does not exist and journals carry no boot ID (their commands are always
// replayed). A variable for tests.
var bootIDFile = "/proc/sys/kernel/random/boot_id"

func currentBootID() string {
	b, err := os.ReadFile(bootIDFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// journalEntry is the undo of one change: a file to restore, then commands
// to run in order.
type journalEntry struct {
	Key     string      `json:"key"`
	Restore *fileBackup `json:"restore,omitempty"`
	Undo    []Command   `json:"undo,omitempty"`
}

// journalPath names the journal of iface in dir. Interface names that are
// not plain file names (Windows adapter names may hold spaces and more)
// are made safe, with a hash to keep them apart.
func journalPath(dir, iface string) string {
	safe := true
	for _, c := range iface {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			safe = false
			break
		}
	}
	name := iface
	if !safe || strings.HasPrefix(iface, ".") {
		sum := sha256.Sum256([]byte(iface))
		b := []byte(iface)
		for i, c := range b {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				b[i] = '_'
			}
		}
		name = string(b) + "-" + hex.EncodeToString(sum[:4])
	}
	return filepath.Join(dir, name+journalExt)
}

func isJournalTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, journalExt+atomicTmp)
}

// writeJournal replaces the journal of iface with entries, or removes it
// when there are none.
func writeJournal(dir, iface string, entries []journalEntry) error {
	if len(entries) > 0 {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("platform: journal directory: %w", err)
		}
	}
	return writeJournalAt(journalPath(dir, iface), &journalFile{
		Version:   journalVersion,
		Interface: iface,
		PID:       os.Getpid(),
		BootID:    currentBootID(),
		Entries:   entries,
	})
}

// decodeJournal parses the journal read from path. It checks only the
// format; readTrustedJournal (journaltrust.go) decides whether to replay it.
func decodeJournal(path string, data []byte) (*journalFile, error) {
	var j journalFile
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("platform: journal %s: %w", path, err)
	}
	if j.Version != journalVersion {
		return nil, fmt.Errorf("platform: journal %s: version %d, want %d", path, j.Version, journalVersion)
	}
	return &j, nil
}

// replayJournal undoes the entries of j, newest first, rewriting the
// journal after each so that it stays exact, and removes it at the end.
// Undo actions that fail stay in the journal; the error names them. For a
// journal from an earlier boot only files are restored.
func replayJournal(env *routerEnv, path string, j *journalFile) error {
	var errs []error
	earlierBoot := j.BootID != "" && j.BootID != currentBootID()
	if earlierBoot {
		env.log.Info("journal from an earlier boot: restoring files only (routes and addresses went with that boot)",
			"journal", path, "boot_id", j.BootID)
	}
	for i := len(j.Entries) - 1; i >= 0; i-- {
		e := j.Entries[i]
		if earlierBoot {
			e.Undo = nil
		}
		if err := env.undo(&e); err != nil {
			errs = append(errs, fmt.Errorf("platform: undoing %s on %s: %w", e.Key, j.Interface, err))
			continue
		}
		j.Entries = append(j.Entries[:i:i], j.Entries[i+1:]...)
		if err := writeJournalAt(path, j); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeJournalAt rewrites the journal at path (kept under its name even if
// the naming rule changes), or removes it when empty.
func writeJournalAt(path string, j *journalFile) error {
	if len(j.Entries) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("platform: removing journal: %w", err)
		}
		return nil
	}
	data, err := json.MarshalIndent(j, "", "\t")
	if err != nil {
		return fmt.Errorf("platform: encoding journal: %w", err)
	}
	if err := writeFileAtomic(path, append(data, '\n'), 0o600, -1, -1); err != nil {
		return fmt.Errorf("platform: writing journal: %w", err)
	}
	return nil
}
