"""Offline check of the Spack recipe (Spack itself is not available in CI): the file parses, it
sits where a Spack >= 1.0 repository needs it (spack_repo/<namespace>/packages/<name with _>/),
and its class is the one Spack derives from the package name. Usage: check_recipe.py REPO_DIR"""
import ast
import os
import re
import sys

repo = sys.argv[1]
with open(os.path.join(repo, "repo.yaml")) as f:
    yaml = f.read()
namespace = re.search(r"^\s*namespace:\s*(\S+)", yaml, re.M).group(1)
assert os.path.basename(os.path.normpath(repo)) == namespace, f"repo directory must be named {namespace}"
assert os.path.basename(os.path.dirname(os.path.normpath(repo))) == "spack_repo", "repo must sit in spack_repo/"
assert re.search(r"^\s*api:\s*v2\.\d+", yaml, re.M), "repo.yaml needs api: v2.x (Spack >= 1.0)"

pkg_dirs = sorted(os.listdir(os.path.join(repo, "packages")))
assert pkg_dirs == ["sci_infer"], pkg_dirs  # package sci-infer: '-' becomes '_' in the directory
path = os.path.join(repo, "packages", "sci_infer", "package.py")
with open(path) as f:
    tree = ast.parse(f.read(), path)
imports = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
assert ("spack.package", "*") in imports, "from spack.package import * is missing"
assert ("spack_repo.builtin.build_systems.cmake", "CMakePackage") in imports
assert ("spack_repo.builtin.build_systems.cuda", "CudaPackage") in imports
classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
assert [c.name for c in classes] == ["SciInfer"], [c.name for c in classes]
assert {b.id for b in classes[0].bases} == {"CMakePackage", "CudaPackage"}
calls = [n for n in ast.walk(classes[0]) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
versions = [c for c in calls if c.func.id == "version" and c.args and c.args[0].value != "main"]
assert versions, "no released version()"
source = open(path).read()
assert "lib/pkgconfig" not in source and "lib.pkgconfig" not in source, "hard-coded pkgconfig path"
print(f"{path}: parses; namespace {namespace}; class SciInfer; {len(versions)} release version(s)")
