/* p2p-protocol.h: the one header that owns every wire name of the project.
 *
 * Three protocols live here:
 *   - the control protocol (p2pctl <-> p2pd, JSON-RPC 2.0 over a UNIX socket),
 *   - the signaling protocol (p2pd <-> p2p-signald, JSON-RPC 2.0 over TLS),
 *   - the peer protocol (p2pd <-> p2pd, binary frames inside TLS over ICE).
 * docs/PROTOCOL.md describes them in prose; a name that changes here changes there.
 */
#pragma once

#include <stdint.h>

/* ---- shared JSON-RPC limits ------------------------------------------------ */

#define P2P_JSONRPC_MAX_LINE      (64 * 1024)  /* bytes per line, newline excluded */
#define P2P_JSONRPC_MAX_DEPTH     16           /* nesting of arrays/objects */

/* Standard JSON-RPC 2.0 error codes. */
#define P2P_RPC_PARSE_ERROR       -32700
#define P2P_RPC_INVALID_REQUEST   -32600
#define P2P_RPC_METHOD_NOT_FOUND  -32601
#define P2P_RPC_INVALID_PARAMS    -32602
#define P2P_RPC_INTERNAL_ERROR    -32603

/* Application error codes, shared by both JSON-RPC links. */
#define P2P_RPC_LIMIT             -32000  /* line too long, too deep, too many requests */
#define P2P_RPC_UNAUTHORIZED      -32001  /* bad API key / not registered yet */
#define P2P_RPC_UNKNOWN_PEER      -32002  /* no visible peer by that id */
#define P2P_RPC_AMBIGUOUS_PEER    -32003  /* alias matches several peers; data.candidates */
#define P2P_RPC_PEER_OFFLINE      -32004
#define P2P_RPC_NOT_FOUND         -32005  /* transfer id or file not found */
#define P2P_RPC_IO                -32006  /* local file cannot be read or written */
#define P2P_RPC_REPLACED          -32007  /* a newer session registered the same id */
#define P2P_RPC_TOO_MANY_SESSIONS -32008
#define P2P_RPC_PERMISSION        -32009  /* caller may not do this (uid check) */
#define P2P_RPC_STATE             -32010  /* not possible in the current state */

/* ---- control protocol: p2pctl <-> p2pd ------------------------------------- */

#define P2P_CONTROL_VERSION       1
#define P2P_CONTROL_MAX_CLIENTS_PER_UID 16
#define P2P_SEND_MAX_PATHS        200   /* paths (and descriptors) per transfer.send */

#define P2P_M_DAEMON_INFO         "daemon.info"
#define P2P_M_PEERS_LIST          "peers.list"
#define P2P_M_TRANSFER_SEND       "transfer.send"
#define P2P_M_TRANSFER_LIST       "transfer.list"
#define P2P_M_TRANSFER_STATUS     "transfer.status"
#define P2P_M_TRANSFER_ACCEPT     "transfer.accept"   /* offer waiting (auto-accept=false) */
#define P2P_M_TRANSFER_REJECT     "transfer.reject"
#define P2P_M_TRANSFER_CANCEL     "transfer.cancel"
#define P2P_M_TRANSFER_TAKE       "transfer.take"     /* fd of a received file, SCM_RIGHTS */
#define P2P_M_TRANSFER_TAKEN      "transfer.taken"    /* caller copied it: drop inbox copy */
#define P2P_M_EVENTS_SUBSCRIBE    "events.subscribe"
#define P2P_M_LOG_LEVEL           "log.set-level"     /* {level} -> {level, previous}; root
                                                       * or the daemon's own uid */
#define P2P_M_CHAT_SEND           "chat.send"
#define P2P_M_CHAT_TYPING         "chat.typing"
#define P2P_M_CHAT_HISTORY        "chat.history"
#define P2P_CHAT_MAX_TEXT         4096   /* bytes of UTF-8 per message */
#define P2P_CHAT_HISTORY_MAX      1000
#define P2P_M_CALL_START          "call.start"   /* {peer} -> Call + {url} */
#define P2P_M_CALL_ANSWER         "call.answer"  /* {call?} -> Call + {url}; also a new link */
#define P2P_M_CALL_HANGUP         "call.hangup"  /* {call?} -> Call */
#define P2P_M_CALL_LIST           "call.list"    /* {} -> {calls:[Call]} */

/* Events: JSON-RPC notifications whose method is the event name. */
#define P2P_E_OFFER_SENT          "offer_sent"
#define P2P_E_TRANSFER_START      "transfer_start"
#define P2P_E_TRANSFER_PROGRESS   "transfer_progress"
#define P2P_E_TRANSFER_COMPLETE   "transfer_complete"
#define P2P_E_TRANSFER_FAILED     "transfer_failed"
#define P2P_E_TRANSFER_PAUSED     "transfer_paused"
#define P2P_E_TRANSFER_RESUMED    "transfer_resumed"
#define P2P_E_FILE                "file"              /* an incoming offer */
#define P2P_E_ERROR               "error"
#define P2P_E_PEER_ONLINE         "peer_online"
#define P2P_E_PEER_OFFLINE        "peer_offline"
#define P2P_E_CHAT_MESSAGE        "chat_message"
#define P2P_E_CHAT_DELIVERED      "chat_delivered"
#define P2P_E_CHAT_TYPING         "chat_typing"
#define P2P_E_CALL_INCOMING       "call_incoming"  /* Call: a peer rings */
#define P2P_E_CALL_STATE          "call_state"     /* Call: accepted, page or media changed */
#define P2P_E_CALL_ENDED          "call_ended"     /* Call, with reason and message */

/* ---- signaling protocol: p2pd <-> p2p-signald ------------------------------ */

#define P2P_SIGNAL_VERSION        1

/* requests, client -> server */
#define P2P_S_REGISTER            "register"     /* {version, key, agent, fingerprint} */
#define P2P_S_PEERS               "peers"        /* {} -> {peers:[{id,fingerprint}]} */
#define P2P_S_SIGNAL              "signal"       /* {to, kind, ...ICE fields} */
#define P2P_S_PING                "ping"
#define P2P_S_ICE_SERVERS         "ice-servers"  /* {} -> {ice_servers} (fresh TURN credentials) */
/* the member of register's result and ice-servers' result that carries
 * {stun:["ADDR:PORT"], turn:[{address, username, password}], ttl} (absent: none) */
#define P2P_S_ICE_SERVERS_MEMBER  "ice_servers"
/* notifications, server -> client */
#define P2P_S_N_PRESENCE          "presence"     /* {id, fingerprint, online} */
#define P2P_S_N_SIGNAL            "signal"       /* {from, fingerprint, kind, ...ICE fields} */
#define P2P_S_N_CLOSING           "closing"      /* {code, reason}: then the server hangs up */

/* signal kinds */
/* the "transport" member of offer/answer (udp-transport): what the TLS stream runs on */
#define P2P_TRANSPORT_DATAGRAM    "datagram"
#define P2P_TRANSPORT_PSEUDOTCP   "pseudotcp"
#define P2P_SK_OFFER              "offer"        /* ufrag, pwd, session */
#define P2P_SK_ANSWER             "answer"       /* ufrag, pwd, session */
#define P2P_SK_CANDIDATE          "candidate"    /* session, candidates[] */
#define P2P_SK_END                "end"          /* session: end-of-candidates */
#define P2P_SK_BYE                "bye"          /* session: tear down */

/* ---- peer protocol: p2pd <-> p2pd, inside TLS ------------------------------- */

#define P2P_PEER_VERSION          1
#define P2P_FRAME_HEADER          5                 /* [u8 type][u32 BE length] */
#define P2P_FRAME_MAX_PAYLOAD     (1024 * 1024)
#define P2P_DATA_CHUNK            (64 * 1024)      /* DATA payload bytes per frame */

typedef enum {
	P2P_FRAME_HELLO    = 0x01, /* JSON {version, agent, caps[]} */
	P2P_FRAME_OFFER    = 0x02, /* JSON {xfer, count, bytes, entries:[{path,type,size,mode,mtime,target}]} */
	P2P_FRAME_ACCEPT   = 0x03, /* JSON {xfer, file, offset}: start or resume there */
	P2P_FRAME_REJECT   = 0x04, /* JSON {xfer, code, message} */
	P2P_FRAME_DATA     = 0x05, /* binary [u64 BE xfer][u32 BE entry][u64 BE offset][bytes] */
	P2P_FRAME_FILE_END = 0x06, /* binary [u64 BE xfer][u32 BE entry][32 bytes SHA-256] */
	P2P_FRAME_ACK      = 0x07, /* JSON {xfer, upto}: entries < upto are durable */
	P2P_FRAME_NACK     = 0x08, /* JSON {xfer, file, code, message} */
	P2P_FRAME_CANCEL   = 0x09, /* JSON {xfer, code, message} */
	P2P_FRAME_ERROR    = 0x0a, /* JSON {code, message}: the session is being closed */
	P2P_FRAME_MANIFEST = 0x0b, /* JSON {xfer, entries:[]}: the OFFER's manifest, continued */
	P2P_FRAME_CHAT     = 0x0c, /* JSON {id, text, ts}: a chat message */
	P2P_FRAME_CHAT_ACK = 0x0d, /* JSON {id}: the message is stored */
	P2P_FRAME_TYPING   = 0x0e, /* JSON {}: the user is typing */
	P2P_FRAME_CALL     = 0x0f, /* JSON {call, kind, sdp|candidate,mid,mline|code,message}:
	                            * call signaling between the two browser pages */
	P2P_FRAME_PING     = 0x10, /* binary, P2P_PING_LEN opaque bytes: answer with PONG */
	P2P_FRAME_PONG     = 0x11, /* binary, the PING's bytes echoed */
} P2pFrameType;

/* PING/PONG measure the round trip through the channel and prove the path is alive.
 * Sent only to a peer whose HELLO caps list P2P_CAP_PING (an older peer would close the
 * session on an unknown frame type). A side that pings hears from its peer at least
 * every P2P_PING_INTERVAL_S; nothing at all for P2P_PEER_SILENCE_S means the path died
 * (libnice's consent freshness usually says so first, after 10 s). */
#define P2P_CAP_PING              "ping"
#define P2P_PING_LEN              8
#define P2P_PING_INTERVAL_S       5
#define P2P_PEER_SILENCE_S        20

#define P2P_DATA_HEADER           20               /* xfer + file + offset */
#define P2P_SHA256_LEN            32
#define P2P_FILE_END_LEN          (12 + P2P_SHA256_LEN) /* xfer + file + digest */
/* Entries one transfer may carry at most, whatever max-files says (the receiver holds
 * the manifest in memory), and the bytes of manifest per OFFER/MANIFEST frame. */
#define P2P_OFFER_MAX_ENTRIES     1000000
#define P2P_MANIFEST_FRAME_BYTES  (512 * 1024)

/* Calls (CALL frames): kinds, and what one frame may carry. */
#define P2P_CALL_RING             "ring"       /* caller -> callee: a new call */
#define P2P_CALL_ACCEPT           "accept"     /* callee's page is open */
#define P2P_CALL_OFFER            "offer"      /* caller's SDP offer (sdp) */
#define P2P_CALL_ANSWER           "answer"     /* callee's SDP answer (sdp) */
#define P2P_CALL_CANDIDATE        "candidate"  /* candidate, mid, mline */
#define P2P_CALL_HANGUP           "hangup"     /* code, message */
#define P2P_CALL_ID_LEN           16           /* hex digits, chosen by the caller */
#define P2P_CALL_MAX_SDP          (64 * 1024)
#define P2P_CALL_MAX_CANDIDATE    1024
#define P2P_CALL_CAP              "call"       /* HELLO capability: CALL frames understood */

/* Reason codes carried by REJECT, NACK, CANCEL and ERROR frames. */
#define P2P_REASON_NOT_ALLOWED    "not-allowed"
#define P2P_REASON_TOO_LARGE      "too-large"
#define P2P_REASON_NO_SPACE       "no-space"
#define P2P_REASON_DECLINED       "declined"
#define P2P_REASON_BAD_NAME       "bad-name"
#define P2P_REASON_BAD_SIZE       "bad-size"
#define P2P_REASON_HASH_MISMATCH  "hash-mismatch"
#define P2P_REASON_IO             "io-error"
#define P2P_REASON_PROTOCOL       "protocol-error"
#define P2P_REASON_CANCELLED      "cancelled"
#define P2P_REASON_KEY_MISMATCH   "key-mismatch"
#define P2P_REASON_VERSION        "version"
#define P2P_REASON_DISCONNECTED   "disconnected"
#define P2P_REASON_EXPIRED        "expired"
#define P2P_REASON_CHANGED        "changed"
#define P2P_REASON_TOO_MANY_FILES "too-many-files"
#define P2P_REASON_BAD_PATH       "bad-path"
#define P2P_REASON_HANGUP         "hangup"         /* a call: one side hung up */
#define P2P_REASON_BUSY           "busy"           /* a call: too many calls already */
#define P2P_REASON_NO_ANSWER      "no-answer"      /* a call rang too long */
#define P2P_REASON_UNSUPPORTED    "not-supported"  /* the peer's p2pd has no calls */
