"""Small runnable examples of the library (``flowkit demo``)."""
