"""``stelab config-docs``: write config/README.md from the config schema, or check that it is current."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "config-docs",
        help="write config/README.md (every config key) from workflow/schemas/config.schema.yaml",
        description=(
            "Render the configuration reference: one table row per key of the config schema (type, bounds, "
            "meaning from the schema's description fields, required, default) and the list of config files. "
            "Prints it, writes it atomically with --out, or with --check fails (exit 2) when the given file "
            "differs from what the schema gives now. A key without a description is an error naming the key."
        ),
        epilog="example: stelab config-docs --out config/README.md",
    )
    target = p.add_mutually_exclusive_group()
    target.add_argument("--out", help="write the reference here (config/README.md)")
    target.add_argument("--check", help="compare this file with the reference the schema gives now")
    p.add_argument("--config-dir", help="folder of the config files to list (default: this checkout's config/)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..config import SCHEMA_PATH, load_schema
    from ..report.config_docs import REGENERATE, config_files, render_config_docs, section_rows
    from ..io import write_bytes

    config_dir = Path(args.config_dir) if args.config_dir else SCHEMA_PATH.parents[2] / "config"
    text = render_config_docs(schema=load_schema(), config_dir=config_dir)
    if args.out:
        write_bytes(args.out, text.encode("utf-8"))
    elif args.check:
        path = Path(args.check)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist; write it with {REGENERATE}")
        if path.read_text(encoding="utf-8") != text:
            raise ValueError(f"{path} is out of date with the config schema; regenerate it with {REGENERATE}")
        schema = load_schema()
        n_keys = sum(len(rows) for rows in section_rows(schema).values())
        print(f"{path} is current: {n_keys} keys of {SCHEMA_PATH.name} and the {len(config_files(config_dir))} "
              f"config files of {config_dir} checked")
    else:
        print(text, end="")
    return 0
