"""Write the shipped AR effects (morph3d.ar.authoring) to assets/ar (GLB + anchor JSON).

python scripts/make_effects.py [--out assets/ar]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import trimesh

from morph3d.ar.authoring import MAKERS
from morph3d.files import atomic_path, write_json
from morph3d.paths import ASSETS_EFFECTS


def write_effect(name: str, out: Path) -> None:
    parts, spec = MAKERS[name]()
    scene = trimesh.Scene()
    for part, mesh in parts.items():
        scene.add_geometry(mesh, geom_name=part, node_name=part)
    with atomic_path(out / f"{name}.glb") as temporary:
        temporary.write_bytes(scene.export(file_type="glb"))
    write_json(
        out / f"{name}.json",
        {
            "name": name,
            "space": "face space: origin between the outer eye corners, unit = their distance, "
            "x right, y up, z toward the viewer (morph3d.ar.effects)",
            **spec,
        },
    )
    size = (out / f"{name}.glb").stat().st_size / 1024
    print(f"{name}: {len(parts)} parts, {size:.0f} KiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ASSETS_EFFECTS)
    parser.add_argument("effects", nargs="*", help=f"default: all of {sorted(MAKERS)}")
    args = parser.parse_args(argv)
    unknown = set(args.effects) - set(MAKERS)
    if unknown:
        parser.error(f"unknown effects {sorted(unknown)}; choose from {sorted(MAKERS)}")
    args.effects = args.effects or sorted(MAKERS)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.effects:
        write_effect(name, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
