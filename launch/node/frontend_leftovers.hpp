// What a frontend killed outright (SIGKILL) leaves: the local launcher's private
// PMIx directory ($TMPDIR/dragon-<job>-pmix-*). Its nodes outlive it (they tear
// down in order on its death), so they remove it as they go.
#pragma once

namespace dragon::node {

// Removes the PMIx server's directory (PMIX_SERVER_TMPDIR) if it is one of this
// job's own (named dragon-<job>-pmix-*, owned by us) and the frontend
// (DRAGON_FRONTEND_PID) is gone. Never touches a workload manager's directory.
void remove_dead_frontends_directory();

} // namespace dragon::node
