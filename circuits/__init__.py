"""Circuit building blocks and the ngspice simulation runner. Never imports torch."""
