# The CPython interpreters the dragon Python package is built for.
#
# DRAGON_PYTHONS lists them: versions ("3.9;3.12", looked up as python3.X on PATH,
# then under $PYENV_ROOT/versions/3.X.*, newest patch first) or interpreter paths.
# Empty (the default) means the python3 on PATH alone. Each one gets its own
# _dragon<EXT_SUFFIX> (e.g. _dragon.cpython-312-x86_64-linux-gnu.so) in the same
# package directory, where each interpreter's import finds its own.

set(DRAGON_PYTHONS "" CACHE STRING
    "CPython versions (3.X) or interpreter paths to build the dragon Python package for; empty: the python3 on PATH")

# What an interpreter says about itself: "<executable>;<X.Y>;<include dir>;<EXT_SUFFIX>",
# or "" if it does not run.
function(dragon_python_describe exe out)
  execute_process(
    COMMAND ${exe} -c
      "import sys, sysconfig; print(';'.join([sys.executable, '%d.%d' % sys.version_info[:2], sysconfig.get_paths()['include'], sysconfig.get_config_var('EXT_SUFFIX') or '']))"
    OUTPUT_VARIABLE described OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE rc ERROR_QUIET TIMEOUT 60)
  if(rc EQUAL 0 AND described MATCHES "^[^;]+;3\\.[0-9]+;[^;]+;\\.[^;]+$")
    set(${out} "${described}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

# An interpreter for one DRAGON_PYTHONS entry, described; a fatal error naming
# what was tried otherwise.
function(dragon_python_resolve entry out)
  set(tried)
  if(entry MATCHES "^3\\.[0-9]+$")
    set(candidates)
    find_program(on_path_${entry} NAMES python${entry} NO_CACHE)
    if(on_path_${entry})
      list(APPEND candidates ${on_path_${entry}})
    endif()
    if(DEFINED ENV{PYENV_ROOT})
      set(pyenv_root $ENV{PYENV_ROOT})
    else()
      set(pyenv_root $ENV{HOME}/.pyenv)
    endif()
    file(GLOB pyenv_versions LIST_DIRECTORIES true "${pyenv_root}/versions/${entry}.*")
    list(SORT pyenv_versions COMPARE NATURAL ORDER DESCENDING)
    foreach(dir ${pyenv_versions})
      if(dir MATCHES "/${entry}\\.[0-9]+$")
        list(APPEND candidates ${dir}/bin/python${entry})
      endif()
    endforeach()
    set(want ${entry})
    set(where "python${entry} on PATH and ${pyenv_root}/versions/${entry}.*")
  else()
    set(candidates ${entry})
    set(want "")
    set(where "${entry}")
  endif()
  foreach(exe ${candidates})
    dragon_python_describe(${exe} described)
    if(NOT described)
      list(APPEND tried "${exe} (does not run)")
      continue()
    endif()
    list(GET described 1 version)
    list(GET described 2 include)
    if(want AND NOT version STREQUAL want)
      list(APPEND tried "${exe} (is ${version})")
    elseif(NOT EXISTS ${include}/Python.h)
      list(APPEND tried "${exe} (no Python.h in ${include}: install its development headers)")
    else()
      set(${out} "${described}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  if(NOT tried)
    set(tried "nothing found")
  endif()
  string(REPLACE ";" ", " tried "${tried}")
  message(FATAL_ERROR
    "DRAGON_PYTHONS names '${entry}', but no usable CPython was found (looked at ${where}: ${tried}). "
    "Give the interpreter's path instead (-DDRAGON_PYTHONS=\"/path/to/python3.X;...\"), "
    "or leave that version out.")
endfunction()
