package cli

import (
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// release is a module version naming a release (v0.2.0, v1.0.0-rc.1),
// not a pseudo-version go build derives from a commit
// (v0.0.0-20261202085010-ba6658cbf7c5+dirty): the commit is shown apart.
var release = regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$`)

// version is Corridor's release; a release build sets it with
// -ldflags "-X github.com/corridorvpn/corridor/app/cli.version=0.2.0".
// Empty: the release go install recorded (corridor@v0.2.0), else
// defaultVersion.
var version string

// defaultVersion matches FyneApp.toml's Version, with -dev: a build from
// a source checkout that names no release.
const defaultVersion = "0.1.0-dev"

// VersionLine is what corridor --version prints: the release, the
// commit it was built from (with ", dirty" when the work tree had
// changes), the Go version and the platform.
func VersionLine() string {
	bi, _ := debug.ReadBuildInfo()
	return versionLine(version, bi)
}

func versionLine(v string, bi *debug.BuildInfo) string {
	goVersion := runtime.Version()
	commit, dirty := "", false
	if bi != nil {
		if v == "" && release.MatchString(bi.Main.Version) {
			v = strings.TrimPrefix(bi.Main.Version, "v")
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = defaultVersion
	}
	if len(commit) > 7 {
		commit = commit[:7]
	}
	var rev string
	switch {
	case commit == "":
		rev = "commit unknown"
	case dirty:
		rev = "commit " + commit + ", dirty"
	default:
		rev = "commit " + commit
	}
	return fmt.Sprintf("corridor %s (%s) %s %s/%s", v, rev, goVersion, runtime.GOOS, runtime.GOARCH)
}

func versionCmd(args []string, env Env) int {
	fs := newFlagSet("version", "Usage: corridor version (or corridor --version)\n\nPrints the version, the commit it was built from and the Go version.\n")
	if code, ok := parseFlags(fs, args, env); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return usageError(env, "version", "takes no arguments")
	}
	printVersion(env.Stdout)
	return ExitOK
}

func printVersion(w io.Writer) { fmt.Fprintln(w, VersionLine()) }
