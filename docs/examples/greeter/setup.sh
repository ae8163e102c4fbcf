#!/bin/sh
# Runs in the VM after every boot (the plugin's `scripts`), in the workspace, as the guest user.
if [ -s "$HOME/.greeter/greeted" ]; then
        echo "greeter: greeted $(wc -l <"$HOME/.greeter/greeted") time(s) so far"
else
        echo "greeter: nobody greeted yet"
fi
