#!/usr/bin/env python3
"""Checks the shape of the production code (coap/, lwip_tap/, daemon/, config/):
no source file over 500 lines and no function over 60 lines.

Functions are found the way clang-format lays them out: a definition whose
line ends in '{' after a parameter list, its body up to the matching '}'.
Lambdas count towards the function they are in. Prints one line per
violation and exits 1 when there is any.

  scripts/check_shape.py [--max-file N] [--max-function N] [FILE...]
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ("coap", "lwip_tap", "daemon", "config")
NOT_A_FUNCTION = re.compile(
    r"^\s*(if|for|while|switch|else|do|catch|try|namespace|struct|class|union|enum|return|case)\b")
DEFINITION = re.compile(r"\)\s*(const)?\s*(noexcept)?\s*(override|final)?\s*"
                        r"([A-Z_]+\([^)]*\)\s*)*(->\s*[\w:<>&*, ]+)?\s*\{\s*$")


def strip_strings_and_comments(line, in_block_comment):
    """The line without string/char literals and comments (so braces in them
    do not count), and whether a block comment continues on the next line."""
    out = []
    i = 0
    while i < len(line):
        if in_block_comment:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out), True
            i = end + 2
            in_block_comment = False
            continue
        c = line[i]
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            in_block_comment = True
            i += 2
            continue
        if c in "\"'":
            j = i + 1
            while j < len(line) and line[j] != c:
                j += 2 if line[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out), in_block_comment


def functions(path):
    """(name line, first line, length) of every function definition."""
    raw = path.read_text(errors="replace").splitlines()
    code = []
    in_comment = False
    for line in raw:
        stripped, in_comment = strip_strings_and_comments(line, in_comment)
        code.append(stripped)
    found = []
    i = 0
    while i < len(code):
        line = code[i]
        head = line.strip()
        is_def = (DEFINITION.search(line) and not NOT_A_FUNCTION.match(line)
                  and not head.startswith("[") and "](" not in line and "= [" not in line)
        if not is_def:
            i += 1
            continue
        depth = 0
        j = i
        while j < len(code):
            depth += code[j].count("{") - code[j].count("}")
            if depth <= 0 and j > i or (depth == 0 and code[j].rstrip().endswith("}")):
                break
            j += 1
        # The signature may start on earlier lines (wrapped parameters).
        start = i
        while start > 0 and code[start - 1].strip() and not code[start - 1].rstrip().endswith(
                (";", "{", "}", ":")) and not code[start - 1].strip().startswith(("#", "//")):
            start -= 1
        found.append((raw[start].strip(), start + 1, j - start + 1))
        i = j + 1
    return found


def production_files():
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", *PRODUCTION],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / f for f in out if f.endswith((".cc", ".h")) and (ROOT / f).exists()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-file", type=int, default=500)
    ap.add_argument("--max-function", type=int, default=60)
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    files = [Path(f).resolve() for f in args.files] or production_files()
    problems = []
    for path in files:
        rel = path.relative_to(ROOT)
        lines = len(path.read_text(errors="replace").splitlines())
        if lines > args.max_file:
            problems.append(f"{rel}: {lines} lines (at most {args.max_file})")
        for signature, first, length in functions(path):
            if length > args.max_function:
                problems.append(f"{rel}:{first}: function of {length} lines (at most "
                                f"{args.max_function}): {signature[:70]}")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"check_shape: {len(files)} files, none over {args.max_file} lines, "
          f"no function over {args.max_function} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
