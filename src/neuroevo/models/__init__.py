"""Models: the MLP and the small CNN as functions of a population of flat parameter vectors, and the Problem that counts all work."""
