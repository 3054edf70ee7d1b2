package platform

// NewRouter returns the Router of this system: routes through the IP Helper
// API (winipcfg), planned as windowscmds.go plans them and executed by
// winNetRunner (windowsnet.go); DNS through the IP Helper API too; the
// route the server takes now from PowerShell's Find-NetRoute. Compiled and
// tested against fakes only: it has never run on Windows.
//
// The journal directory is created, or checked when it exists, before the
// Router is returned: only SYSTEM and the Administrators may write to it
// (windowsjournal.go). A directory that fails the check stops NewRouter.
func NewRouter(opts ...RouterOption) (Router, error) {
	r := newRouter(windowsIPHelperItems, opts...)
	if _, ok := r.env.runner.(ExecRunner); ok {
		// WithRouterRunner (tests) replaces execution as a whole.
		r.env.runner = winNetRunner{n: ipHelper{}, next: r.env.runner}
	}
	if err := secureJournalDir(r.env.journalDir); err != nil {
		return nil, err
	}
	return r, nil
}
