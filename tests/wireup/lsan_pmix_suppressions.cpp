// OpenPMIx 4.2.2 does not free everything it allocates (its init, its data store,
// unpacked buffers: every report is rooted in libpmix frames), so sanitizer builds
// would fail on its leaks, not ours. LeakSanitizer asks this hook for suppressions
// at exit; in builds without sanitizers it is an unused function.
extern "C" const char *__lsan_default_suppressions()
{
    return "leak:libpmix.so\n";
}
