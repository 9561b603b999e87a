#!/usr/bin/env python3
"""check_doc_examples.py - the C examples of the docs compile against the public headers.

Extracts the backticked code of the example column of docs/API.md's tables and the ```c
code blocks of docs/API.md, docs/cpp.md, docs/media.md, docs/files.md and
docs/artifacts.md; wraps each in a function body after PREAMBLE_C (the variables the
examples use) and compiles them all with `cc -std=c11 -Wall -Wextra -Werror
-fsyntax-only`. Examples naming wandb:: (the C++ rows of docs/API.md) and the ```cpp
blocks go through `c++ -std=c++17` with PREAMBLE_CXX (their #include lines dropped; a
block that needs wandb_mpi.hpp, hence <mpi.h>, is counted as not checked). A #line directive before each example makes the
compiler name the doc's file and line. Needs no built library.

Usage: check_doc_examples.py SOURCE_DIR GENERATED_INCLUDE_DIR  (the directory of the
generated wandb_version.h). Environment CC / CXX override the compilers.
Exit 0: all compile; 1: one does not (the compiler's message names it); 2: usage,
or no examples found.
"""
import os
import re
import subprocess
import sys
import tempfile

DOCS = ["docs/API.md", "docs/cpp.md", "docs/media.md", "docs/files.md", "docs/artifacts.md"]
TABLE_DOC = "docs/API.md"

# What the examples may use without declaring it. Keep it small: a name an example
# needs and this lacks is a doc that should say where the name comes from.
PREAMBLE_C = """\
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "wandb.h"
extern wandb_settings_t *settings;
extern wandb_run_t *run;
extern wandb_artifact_t *art;
extern char path[4096];
extern double loss, acc;
extern float *grads, *w, *dw; /* n elements each */
extern size_t n;
extern uint8_t *pixels; /* width x height x 3 */
extern int width, height;
extern const wandb_image_t *imgs[4];
extern int rank; /* stands for <mpi.h>: */
typedef int MPI_Comm;
#define MPI_COMM_WORLD ((MPI_Comm)0)
extern int MPI_Barrier(MPI_Comm comm);
"""

PREAMBLE_CXX = """\
#include "wandb.hpp"
extern wandb::Settings &settings;
extern int steps;
extern double loss, acc, best;
"""


def table_examples(text):
    """(line, code) of the last column of each table row of text; code None: a row
    without an example."""
    out = []
    for no, line in enumerate(text.splitlines(), 1):
        if not line.startswith("|") or re.match(r"^\|[-| ]+\|$", line):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) < 3 or cells[-1] == "example":
            continue
        spans = re.findall(r"`([^`]+)`", cells[-1])
        out += [(no, code, None) for code in spans] or [(no, None, None)]
    return out


def block_examples(text):
    """(first line, code, language) of each ```c and ```cpp block of text; the #include
    lines of a block are left out (blank, to keep the line numbers)."""
    out, code, start, lang = [], None, 0, ""
    for no, line in enumerate(text.splitlines(), 1):
        if code is None and line.strip() in ("```c", "```cpp"):
            code, start, lang = [], no + 1, "c" if line.strip() == "```c" else "cxx"
        elif code is not None and line.strip() == "```":
            out.append((start, "\n".join(code), lang))
            code = None
        elif code is not None:
            code.append("" if line.startswith("#include") else line)
    return out


def body(code):
    """A statement list from an example: '...' elides code; an expression (no ';') is
    made a statement."""
    code = code.replace("...", "{}")
    if ";" not in code and "}" not in code:
        code = "(void)(%s);" % code
    return code


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    root, gen = sys.argv[1], sys.argv[2]
    units = {"c": [PREAMBLE_C], "cxx": [PREAMBLE_CXX]}
    failed = False
    unchecked = 0
    count = {"c": 0, "cxx": 0}
    for doc in DOCS:
        p = os.path.join(root, doc)
        if not os.path.exists(p):
            continue
        with open(p, encoding="utf-8") as f:
            text = f.read()
        found = block_examples(text)
        if doc == TABLE_DOC:
            found += table_examples(text)
        for line, code, lang in found:
            if code is None:
                print("FAIL: %s:%d: a table row without an example" % (doc, line))
                failed = True
                continue
            if "MPI_Init" in code or "mpi_init" in code:
                print("note: %s:%d: not checked (needs <mpi.h>)" % (doc, line))
                unchecked += 1
                continue
            if lang is None:
                lang = "cxx" if "wandb::" in code else "c"
            count[lang] += 1
            fn = "doc_example_%s_%d" % (lang, count[lang])
            units[lang].append('void %s(void);\nvoid %s(void)\n{\n#line %d "%s"\n%s\n}\n'
                               % (fn, fn, line, doc, body(code)))
    if count["c"] == 0 or not any(doc == TABLE_DOC for doc in DOCS):
        print("no C examples found under %s" % root)
        return 2
    inc = ["-I" + os.path.join(root, "include"), "-I" + gen]
    cc = os.environ.get("CC") or "cc"
    cxx = os.environ.get("CXX") or "c++"
    cmds = {"c": [cc, "-std=c11", "-x", "c"], "cxx": [cxx, "-std=c++17", "-x", "c++"]}
    with tempfile.TemporaryDirectory() as tmp:
        for lang in ("c", "cxx"):
            if count[lang] == 0:
                continue
            src = os.path.join(tmp, "examples." + lang)
            with open(src, "w", encoding="utf-8") as f:
                f.write("\n".join(units[lang]))
            cmd = cmds[lang] + ["-Wall", "-Wextra", "-Werror", "-fsyntax-only"] + inc + [src]
            try:
                r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   universal_newlines=True, timeout=120)
            except FileNotFoundError:
                if lang == "c":
                    print("FAIL: no C compiler %s" % cc)
                    return 1
                print("note: no C++ compiler %s: the %d C++ examples are not checked"
                      % (cxx, count[lang]))
                continue
            if r.returncode != 0:
                failed = True
                print("FAIL: %s examples do not compile (%s):\n%s"
                      % (lang, " ".join(cmd[:2]), r.stdout))
    print("%s: %d C and %d C++ examples from %s (%d not checked)"
          % ("FAIL" if failed else "ok", count["c"], count["cxx"], ", ".join(DOCS), unchecked))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
