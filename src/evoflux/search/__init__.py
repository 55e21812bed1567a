"""The evolutionary search: the loop, its population, intensity, budget, seeding, redesign and outcome."""
