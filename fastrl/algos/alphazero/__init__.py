"""AlphaZero: self-play PUCT search guided by a (p, v) network (``spec.py`` declares it)."""
