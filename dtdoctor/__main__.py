"""``python -m dtdoctor`` is the same as the ``dtdoctor`` command."""

from dtdoctor.cli import main

if __name__ == "__main__":
    main()
