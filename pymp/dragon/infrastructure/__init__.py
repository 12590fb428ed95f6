# Dragon's infrastructure package: here, only what user programs import from it
# (the placement Policy).
