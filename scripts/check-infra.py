"""The checks of scripts/check-infra.sh (run by it, with the venv's bin directory as argv[1]).

Each check prints one line; any failure exits 1 after all checks ran.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml
from dockerfile_parse import DockerfileParser

BIN = sys.argv[1]
K8S_VERSION = "1.33.0"
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# 1. Every YAML file parses (all documents).
yamls = sorted(glob.glob("infra/**/*.yaml", recursive=True) + glob.glob("infra/**/*.yml", recursive=True))
check(len(yamls) >= 4, f"found {len(yamls)} YAML files under infra/")
for path in yamls:
    try:
        docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
        check(len(docs) >= 1, f"{path}: {len(docs)} YAML documents parse")
    except yaml.YAMLError as e:
        check(False, f"{path}: YAML does not parse: {e}")

# 2. Kubernetes manifests validate against the real schemas, strictly (unknown fields fail).
manifests = sorted(glob.glob("infra/k8s/*.yaml"))
out = run([f"{BIN}/kubernetes-validate", "--strict", "-k", K8S_VERSION, *manifests])
check(out.returncode == 0 and "ERROR" not in out.stdout + out.stderr,
      f"kubernetes-validate --strict -k {K8S_VERSION}: {len(manifests)} manifests"
      + ("" if out.returncode == 0 else "\n" + out.stdout + out.stderr))
kinds = {}
for path in manifests:
    for d in yaml.safe_load_all(open(path)):
        if d:
            kinds.setdefault(d["kind"], []).append(d["metadata"]["name"])
for kind, name in [("Deployment", "anchor-api"), ("Service", "anchor-api"),
                   ("Deployment", "anchor-scheduler"), ("Deployment", "anchor-worker"),
                   ("HorizontalPodAutoscaler", "anchor-worker")]:
    check(name in kinds.get(kind, []), f"k8s: {kind}/{name} exists")
api = next(d for p in manifests for d in yaml.safe_load_all(open(p))
           if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "anchor-api")
c = api["spec"]["template"]["spec"]["containers"][0]
check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", "k8s: api readiness probe is /readyz")
check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", "k8s: api liveness probe is /healthz")

# 3. systemd units: `systemd-analyze verify` must print nothing (it exits 0 on unknown keys,
# so any message counts). The check runs before the build: ExecStart's binary is pointed at
# a stub, the only change made to the units.
units = sorted(glob.glob("infra/systemd/*.service"))
check(len(units) == 3, f"found {len(units)} systemd units")
with tempfile.TemporaryDirectory() as tmp:
    stub = os.path.join(tmp, "anchor")
    with open(stub, "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(stub, 0o755)
    names = []
    for path in units:
        text = open(path).read()
        check("ExecStart=/usr/local/bin/anchor " in text, f"{path}: ExecStart runs /usr/local/bin/anchor")
        name = os.path.basename(path).replace("@.service", "@1.service")
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text.replace("/usr/local/bin/anchor", stub))
        names.append(name)
    out = run(["systemd-analyze", "verify", *names], cwd=tmp)
    msg = (out.stdout + out.stderr).strip()
    check(out.returncode == 0 and not msg, f"systemd-analyze verify {' '.join(names)}" + (f"\n{msg}" if msg else ""))

# 4. Dockerfile: hadolint, then what the image must be.
out = run([f"{BIN}/hadolint", "--no-color", "infra/Dockerfile"])
check(out.returncode == 0, "hadolint infra/Dockerfile" + ("" if out.returncode == 0 else "\n" + out.stdout + out.stderr))
df = DockerfileParser(path="infra/Dockerfile")
stages = [i for i in df.structure if i["instruction"] == "FROM"]
check(len(stages) >= 2, f"Dockerfile: multi-stage ({len(stages)} stages)")
check(stages[0]["value"].startswith("rust:1.95") and " AS builder" in stages[0]["value"].upper().replace(" AS BUILDER", " AS builder"),
      f"Dockerfile: builder stage is rust:1.95 ({stages[0]['value']})")
runs = " ".join(i["value"] for i in df.structure if i["instruction"] == "RUN")
check("cargo build --release --locked" in runs, "Dockerfile: cargo build --release --locked")
users = [i["value"].split(":")[0] for i in df.structure if i["instruction"] == "USER"]
check(bool(users) and users[-1] not in ("root", "0"), f"Dockerfile: runs as a non-root user ({users})")
check(any(i["instruction"] == "HEALTHCHECK" for i in df.structure), "Dockerfile: has a HEALTHCHECK")
for i in df.structure:
    if i["instruction"] == "COPY" and "--from=" not in i["value"]:
        for src in i["value"].split()[:-1]:
            if not src.startswith("--"):
                check(os.path.exists(src), f"Dockerfile: COPY source {src} exists in the build context")
ignored = [l.strip() for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
check("target/" in ignored, ".dockerignore keeps target/ out of the build context")
for needed in ["Cargo.toml", "Cargo.lock", "cli", "ledger"]:
    check(not any(p.rstrip("/") == needed for p in ignored), f".dockerignore keeps {needed}")

# 5. JSON files parse; the bucket policies keep their rules.
for path in sorted(glob.glob("infra/**/*.json", recursive=True)):
    try:
        json.load(open(path))
        check(True, f"{path}: JSON parses")
    except ValueError as e:
        check(False, f"{path}: JSON does not parse: {e}")
policy = json.load(open("infra/bucket/s3-bucket-policy.json"))
stmts = policy["Statement"]
check(policy.get("Version") == "2012-10-17", "bucket policy: Version 2012-10-17")
create_only = [s for s in stmts if s["Effect"] == "Deny" and "s3:PutObject" in str(s["Action"])
               and s.get("Condition", {}).get("Null", {}).get("s3:if-none-match") == "true"]
resources = " ".join(str(s["Resource"]) for s in create_only)
check("/roots/*" in resources and "/receipts/*/*/v*" in resources,
      "bucket policy: denies PutObject without If-None-Match on roots/ and receipt versions")
check(any(s["Effect"] == "Deny" and "s3:DeleteObject" in s["Action"] for s in stmts),
      "bucket policy: denies DeleteObject")
allow = [s for s in stmts if s["Effect"] == "Allow"]
check(all(set(s["Action"]) <= {"s3:GetObject", "s3:PutObject", "s3:ListBucket"} for s in allow),
      "bucket policy: the fleet gets GetObject, PutObject, ListBucket only")
public = json.load(open("infra/bucket/s3-public-read-policy.json"))["Statement"]
check(any(s["Effect"] == "Deny" and s["Resource"].endswith("/levels.bin") for s in public),
      "public-read policy: levels.bin stays private")
rules = json.load(open("infra/bucket/s3-lifecycle.json"))["Rules"]
check(all("Expiration" not in r and "Transitions" not in r for r in rules),
      "lifecycle: nothing expires or transitions current objects")

if failures:
    print(f"check-infra: {len(failures)} check(s) failed:", file=sys.stderr)
    for f in failures:
        print(f"  {f}", file=sys.stderr)
    sys.exit(1)
print("check-infra: all checks passed")
