# completion/: bash completion, installed where bash-completion loads it on demand
# (one file per command name).
dist_bashcompletion_DATA = completion/p2pctl completion/p2pd completion/p2p-signald
