"""``workbench deploy-files VERSION``: container and Kubernetes files for one registered candidate version (see :mod:`workbench.serving.deploy`)."""

from __future__ import annotations

import argparse
import math
from typing import Any

from workbench.cli._common import config_arg, load, number_in
from workbench.serving import deploy

PORT = number_in(int, 1, 65535, "must be a TCP port between 1 and 65535")
AT_LEAST_ONE = number_in(int, 1, math.inf, "must be a whole number of 1 or more")


def register(sub: Any) -> dict[str, Any]:
    """Add ``deploy-files``; return ``{name: handler}``."""
    parser = sub.add_parser("deploy-files", help="write a Dockerfile and Kubernetes/Knative manifests serving one registered model version "
                                                 "with `workbench api`")
    parser.add_argument("version", help="MLflow version number (e.g. 3), semantic version (e.g. 1.1.0) or alias (e.g. champion)")
    config_arg(parser)
    parser.add_argument("--out", metavar="DIR", help="folder to write into (default: <config folder>/deploy/<project>-<semver>/)")
    parser.add_argument("--image", metavar="REPO", help="image repository, without a tag (default: workbench/<project as a Kubernetes name>); the tag is the semver")
    parser.add_argument("--replicas", type=AT_LEAST_ONE, default=deploy.DEFAULT_REPLICAS, metavar="N",
                        help=f"minimum pods of the autoscaler (default: {deploy.DEFAULT_REPLICAS}; maximum {deploy.MAX_REPLICAS} or this, if higher)")
    parser.add_argument("--port", type=PORT, default=deploy.DEFAULT_PORT, metavar="PORT", help=f"port the API listens on (default: {deploy.DEFAULT_PORT})")
    return {"deploy-files": _cmd_deploy_files}


def _cmd_deploy_files(args: argparse.Namespace) -> int:
    config = load(args, check=False)  # the files need the registry, not the data files
    paths = deploy.write(config, args.version, out=args.out, image=args.image, replicas=args.replicas, port=args.port)
    for path in paths:
        print(path)
    folder = paths[0].parent
    print(f"next: build the image and apply the manifests as the comments atop {folder / 'Dockerfile'} and {folder / 'deployment.yaml'} say")
    return 0
