"""Job execution: the one function every runner calls, and the runners that call it."""
