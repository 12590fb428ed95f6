# Runs CPython's own multiprocessing test suite with start method 'dragon'.
#   cpython_suite.py WORKDIR
import os
import subprocess
import sys

workdir = sys.argv[1]
with open(os.path.join(workdir, 'test_multiprocessing_dragon.py'), 'w') as f:
    f.write('import dragon\n'
            'import test._test_multiprocessing as m\n'
            "m.install_tests_in_module_dict(globals(), 'dragon')\n")
sys.exit(subprocess.call([sys.executable, '-m', 'test', '--testdir', workdir,
                          'test_multiprocessing_dragon', '-v', '--timeout', '120'], cwd=workdir))
