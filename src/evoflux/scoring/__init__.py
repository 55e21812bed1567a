"""Does a workflow answer its task: reading the task text, intent checks, coverage discounts and fitness."""
