#!/bin/sh
# p2p-signald: who sees whom. alpha and beta name each other as partners; gamma names
# alpha but alpha does not name gamma (one-sided), so gamma and alpha stay invisible
# to each other. Signals carry only the allowed fields, with "from" and "fingerprint"
# set by the server.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/signald-common.sh"

ALPHA=$(add_key alpha beta)
BETA=$(add_key beta alpha)
GAMMA=$(add_key gamma alpha)
start_signald

client bob;   register bob 1 "$ALPHA" bob "$FP_B"
client carol; register carol 1 "$BETA" carol "$FP_C"
client dave;  register dave 1 "$GAMMA" dave "$FP_D"
expect bob '"id":1,' '"result"'
expect carol '"id":1,' '"result"'
expect dave '"id":1,' '"result"'

client alice; register alice 1 "$ALPHA" alice "$FP_A"
# same key by bare id, the partner as KEY.AGENT, sorted; dave nowhere
expect alice '"id":1,' "\"peers\":[{\"id\":\"beta.carol\",\"fingerprint\":\"$FP_C\"},{\"id\":\"bob\",\"fingerprint\":\"$FP_B\"}]"
expect bob '"method":"presence"' '"id":"alice"' '"online":true'
expect carol '"method":"presence"' '"id":"alpha.alice"' "\"fingerprint\":\"$FP_A\"" '"online":true'

call carol 2 peers
expect carol '"id":2,' "\"peers\":[{\"id\":\"alpha.alice\",\"fingerprint\":\"$FP_A\"},{\"id\":\"alpha.bob\",\"fingerprint\":\"$FP_B\"}]"
call dave 2 peers
expect dave '"id":2,' '"result":{"peers":[]}'
never dave '"method":"presence"'

# a signal to the partner: relayed with only the allowed fields
call alice 2 signal '{"to":"beta.carol","kind":"offer","session":"s1","ufrag":"uf1","pwd":"pw1","candidates":["cand-1","cand-2"]}'
expect alice '"id":2,' '"result":{}'
expect carol '"method":"signal"' '"params":{"from":"alpha.alice","fingerprint":"'"$FP_A"'","kind":"offer","session":"s1","ufrag":"uf1","pwd":"pw1","candidates":["cand-1","cand-2"]}}'
never carol '"method":"signal"' '"to"'

# and back, by the id carol sees
call carol 3 signal '{"to":"alpha.alice","kind":"answer","session":"s1","ufrag":"uf2","pwd":"pw2"}'
expect carol '"id":3,' '"result":{}'
expect alice '"method":"signal"' '"params":{"from":"beta.carol","fingerprint":"'"$FP_C"'","kind":"answer","session":"s1","ufrag":"uf2","pwd":"pw2"}}'

# same key, bare id
call bob 2 signal '{"to":"alice","kind":"candidate","session":"s2","candidates":["c"]}'
expect bob '"id":2,' '"result":{}'
expect alice '"method":"signal"' '"from":"bob"' "\"fingerprint\":\"$FP_B\"" '"kind":"candidate"'

# nobody may set "from" or smuggle other members: refused, not relayed
call alice 3 signal '{"to":"beta.carol","kind":"bye","session":"s1","from":"beta.evil"}'
expect alice '"id":3,' '"code":-32602' 'unknown member \"from\"'
call alice 4 signal '{"to":"beta.carol","kind":"bogus","session":"s1"}'
expect alice '"id":4,' '"code":-32602' 'kind'
ping_ok carol 4
never carol 'beta.evil'
never carol '"kind":"bye"'

# the one-sided partnership: unreachable both ways, and by every spelling
call dave 3 signal '{"to":"alpha.alice","kind":"offer","session":"s3"}'
expect dave '"id":3,' '"code":-32002' 'no online peer \"alpha.alice\" visible to you'
call alice 5 signal '{"to":"gamma.dave","kind":"offer","session":"s3"}'
expect alice '"id":5,' '"code":-32002' 'gamma.dave'
call alice 6 signal '{"to":"dave","kind":"offer","session":"s3"}'
expect alice '"id":6,' '"code":-32002'
# a partner's agent by bare id, and the own key spelled KEY.AGENT, are not ids either
call carol 5 signal '{"to":"bob","kind":"offer","session":"s3"}'
expect carol '"id":5,' '"code":-32002'
call alice 7 signal '{"to":"alpha.bob","kind":"offer","session":"s3"}'
expect alice '"id":7,' '"code":-32002'
ping_ok dave 4
never dave '"method":"signal"'

# dave leaving is news to nobody
kill "$HOLDER_dave"
wait_for 10 grep -q 'disconnect .*agent "dave"' "$T/signald.log" || fail "dave did not leave"
kill "$HOLDER_carol"
expect alice '"method":"presence"' '"id":"beta.carol"' '"online":false'
never alice '"id":"gamma.dave"' '"method":"presence"'
never alice '"id":"dave"' '"method":"presence"'
pass "visibility, partners, relaying"
