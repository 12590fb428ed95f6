# Dragon's native API: here, only the description of the allocation (machine).
