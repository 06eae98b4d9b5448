"""``python -m trace2skill.cli``."""

from trace2skill.cli import main

main()
