"""Checks the custom resources in rendered manifests against crd-schemas.yaml.

kubernetes-validate knows only Kubernetes' own kinds; this covers the others the
manifests use. A custom kind without a schema here fails, so a new one cannot slip by.

    python validate_crds.py rendered.yaml [more.yaml ...]
"""

import pathlib
import sys

import jsonschema
import yaml

BUILT_IN_GROUPS = {"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2", "discovery.k8s.io/v1",
                   "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1"}


def main(paths):
    catalogue = yaml.safe_load((pathlib.Path(__file__).parent / "crd-schemas.yaml").read_text())
    definitions = catalogue.pop("$defs")
    failures, checked = 0, 0
    for path in paths:
        for document in yaml.safe_load_all(pathlib.Path(path).read_text()):
            if not document or document.get("apiVersion") in BUILT_IN_GROUPS:
                continue
            key = f"{document.get('apiVersion')}/{document.get('kind')}"
            name = f"{path}: {key} {document.get('metadata', {}).get('name')}"
            schema = catalogue.get(key)
            if schema is None:
                print(f"FAIL {name}: no schema for this kind in crd-schemas.yaml")
                failures += 1
                continue
            validator = jsonschema.Draft202012Validator({**schema, "$defs": definitions})
            errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
            for error in errors:
                print(f"FAIL {name}: {'.'.join(map(str, error.path)) or '(root)'}: {error.message}")
            failures += bool(errors)
            checked += 1
    print(f"custom resources: {checked} checked, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
