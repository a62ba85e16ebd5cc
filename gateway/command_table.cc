// SPDX-License-Identifier: Apache-2.0
//
// The command rows. Matches Redis 7.0.15 (src/commands/*.json) for arity, flags and key
// positions of every command listed. Adding a command: one row here, one handler in its family
// file, and tests. No other list may name commands.
#include "gateway/command_table.h"

#include <cctype>
#include <set>
#include <string>
#include <unordered_map>

#include "gateway/commands/commands.h"
#include "resp/request_parser.h"

namespace gateway {
namespace {

using F = CommandFlag;

constexpr CommandSpec kClientSubcommands[] = {
    {"client|id", 2, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdClientId,
     "Returns the unique client ID of the connection.", "connection", "5.0.0"},
    {"client|setname", 3, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdClientSetName,
     "Sets the connection name.", "connection", "2.6.9"},
    {"client|getname", 2, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdClientGetName,
     "Returns the name of the connection.", "connection", "2.6.9"},
    {"client|setinfo", 4, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdClientSetInfo,
     "Sets information specific to the client or connection.", "connection", "7.2.0", {}, nullptr,
     "A Redis 7.2 command, accepted because current clients send it; Redis 7.0 answers "
     "unknown subcommand."},
    {"client|reply", 3, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdClientReply,
     "Instructs the server whether to reply to commands.", "connection", "3.2.0"},
    {"client|info", 2, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdClientInfo,
     "Returns information about the connection.", "connection", "6.2.0"},
    {"client|list", -2, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdClientList,
     "Lists open connections.", "connection", "2.4.0", {}, nullptr,
     "Lists this gateway's clients only; fd, memory and buffer fields are 0."},
};

constexpr CommandSpec kPubsubSubcommands[] = {
    {"pubsub|channels", -2, F::kPubSub | F::kLocal | F::kLoading | F::kStale, 0, 0, 0,
     CmdPubsubChannels, "Returns the active channels.", "pubsub", "2.8.0", {}, nullptr,
     "Channels with subscribers on this gateway only."},
    {"pubsub|numsub", -2, F::kPubSub | F::kLocal | F::kLoading | F::kStale, 0, 0, 0,
     CmdPubsubNumsub, "Returns a count of subscribers to channels.", "pubsub", "2.8.0", {},
     nullptr, "Counts this gateway's subscribers only."},
    {"pubsub|numpat", 2, F::kPubSub | F::kLocal | F::kLoading | F::kStale, 0, 0, 0,
     CmdPubsubNumpat, "Returns a count of unique pattern subscriptions.", "pubsub", "2.8.0", {},
     nullptr, "Counts this gateway's patterns only."},
};

constexpr CommandSpec kAclSubcommands[] = {
    {"acl|cat", -2, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdAclCat,
     "Lists the ACL categories, or the commands inside a category.", "server", "6.0.0", {},
     nullptr, "Lists the gateway's commands; categories are derived from the command table."},
    {"acl|deluser", -3, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdAclDelUser,
     "Deletes ACL users, and terminates their connections.", "server", "6.0.0"},
    {"acl|dryrun", -4, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdAclDryRun,
     "Simulates the execution of a command by a user, without executing the command.", "server",
     "7.0.0"},
    {"acl|genpass", -2, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdAclGenPass,
     "Generates a pseudorandom, secure password that can be used to identify ACL users.",
     "server", "6.0.0"},
    {"acl|getuser", 3, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdAclGetUser,
     "Lists the ACL rules of a user.", "server", "6.0.0", {}, nullptr, "No selectors."},
    {"acl|list", 2, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdAclList,
     "Dumps the effective rules in ACL file format.", "server", "6.0.0", {}, nullptr,
     "Lists the rules as given (Redis prints a minimal equivalent)."},
    {"acl|load", 2, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdAclLoad,
     "Reloads the rules from the configured ACL file.", "server", "6.0.0", {}, nullptr,
     "Users that remain keep their connections; removed users' connections close."},
    {"acl|log", -2, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdAclLog,
     "Lists recent security events generated due to ACL rules.", "server", "6.0.0"},
    {"acl|save", 2, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdAclSave,
     "Saves the effective ACL rules in the configured ACL file.", "server", "6.0.0"},
    {"acl|setuser", -3, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdAclSetUser,
     "Creates and modifies an ACL user and its rules.", "server", "6.0.0", {}, nullptr,
     "Per gateway (not shared through NATS); selectors are refused; rules naming commands the "
     "gateway lacks are kept and match nothing."},
    {"acl|users", 2, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdAclUsers,
     "Lists all ACL users.", "server", "6.0.0"},
    {"acl|whoami", 2, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdAclWhoami,
     "Returns the authenticated username of the current connection.", "server", "6.0.0"},
};

constexpr CommandSpec kConfigSubcommands[] = {
    {"config|get", -3, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdConfigGet,
     "Returns the effective values of configuration parameters.", "server", "2.0.0", {}, nullptr,
     "Knows only the parameters the gateway honours (gateway/config.cc) plus a few fixed facts."},
    {"config|set", -4, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0, CmdConfigSet,
     "Sets configuration parameters in-flight.", "server", "2.0.0", {}, nullptr,
     "Settable: requirepass, proto-max-bulk-len, maxclients, client-output-buffer-limit, "
     "client-query-buffer-limit, timeout, "
     "notify-keyspace-events. notify-keyspace-events is shared by every gateway through the "
     "<bucket>-config KV bucket; the others are per gateway."},
    {"config|resetstat", 2, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0,
     CmdConfigResetStat, "Resets the server's statistics.", "server", "2.0.0"},
    {"config|rewrite", 2, F::kLocal | F::kAdmin | F::kLoading | F::kStale, 0, 0, 0,
     CmdConfigRewrite, "Persists the effective configuration to file.", "server", "2.8.0", {},
     nullptr, "Always answers that there is no config file (flags only)."},
};

constexpr CommandSpec kCommandSubcommands[] = {
    {"command|count", 2, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdCommandCount,
     "Returns a count of commands.", "server", "2.8.13"},
    {"command|info", -2, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdCommandInfo,
     "Returns information about one, multiple or all commands.", "server", "2.8.13"},
    {"command|docs", -2, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdCommandDocs,
     "Returns documentary information about one, multiple or all commands.", "server", "7.0.0"},
    {"command|list", -2, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdCommandList,
     "Returns a list of command names.", "server", "7.0.0", {}, nullptr,
     "FILTERBY is not offered (syntax error)."},
};

constexpr CommandSpec kObjectSubcommands[] = {
    {"object|encoding", 3, F::kReadOnly, 2, 2, 1, CmdObjectEncoding,
     "Returns the internal encoding of a Redis object.", "generic", "2.2.3", {}, nullptr,
     "Strings only: derived from the stored value as SET would encode it (int, embstr, raw); "
     "an APPEND or SETRANGE result that Redis keeps raw may answer embstr or int."},
    {"object|freq", 3, F::kReadOnly, 2, 2, 1, CmdObjectFreq,
     "Returns the logarithmic access frequency counter of a Redis object.", "generic", "4.0.0",
     {}, nullptr, "There is no LFU policy: an existing key always answers Redis's non-LFU error."},
    {"object|idletime", 3, F::kReadOnly, 2, 2, 1, CmdObjectIdleTime,
     "Returns the time since the last access to a Redis object.", "generic", "2.2.3", {},
     nullptr, "Seconds since the key's last write (its NATS timestamp), not its last access."},
    {"object|refcount", 3, F::kReadOnly, 2, 2, 1, CmdObjectRefCount,
     "Returns the reference count of a value of a key.", "generic", "2.2.3", {}, nullptr,
     "2147483647 for the shared integers 0..9999, else 1, as Redis with no maxmemory."},
    {"object|help", 2, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdObjectHelp,
     "Returns helpful text about the different subcommands.", "generic", "6.2.0"},
};

constexpr CommandSpec kFunctionSubcommands[] = {
    {"function|flush", -2, F::kLocal, 0, 0, 0, CmdFunctionFlush,
     "Deletes all libraries and functions.", "scripting", "7.0.0", {}, nullptr,
     "There are no functions; always OK."},
};

// WATCH reads its keys: it waits for this connection's earlier writes to them.
KeyAccess WatchAccess(const resp::Request&) { return KeyAccess::kRead; }

// Containers (rows with subcommands) have a handler that is never called: dispatch resolves the
// subcommand first. CmdCommand doubles as the bare COMMAND.
void ContainerHandler(Call&) {}

constexpr CommandSpec kCommands[] = {
    // transactions
    {"multi", 1, F::kLocal | F::kFast | F::kLoading | F::kStale, 0, 0, 0, CmdMulti,
     "Starts a transaction.", "transactions", "1.2.0"},
    {"exec", 1, F::kLocal | F::kBarrier | F::kLoading | F::kStale, 0, 0, 0, CmdExec,
     "Executes all commands in a transaction.", "transactions", "1.2.0", {}, nullptr,
     "Checks the watched keys, then runs the queued commands one after another; not atomic "
     "against other writers (nats-server 2.9 has no multi-subject batch)."},
    {"discard", 1, F::kLocal | F::kFast | F::kLoading | F::kStale, 0, 0, 0, CmdDiscard,
     "Discards a transaction.", "transactions", "2.0.0"},
    {"watch", -2, F::kLocal | F::kFast | F::kLoading | F::kStale, 1, -1, 1, CmdWatch,
     "Monitors changes to keys to determine the execution of a transaction.", "transactions",
     "2.2.0", {}, WatchAccess,
     "Remembers each key's revision; EXEC compares revisions, so changes from other gateways "
     "and native NATS writers abort too."},
    {"unwatch", 1, F::kLocal | F::kFast | F::kLoading | F::kStale, 0, 0, 0, CmdUnwatch,
     "Forgets about all watched keys of a transaction.", "transactions", "2.2.0"},
    // pub/sub
    {"subscribe", -2, F::kPubSub | F::kLocal | F::kLoading | F::kStale, 0, 0, 0,
     CmdSubscribe, "Listens for messages published to channels.", "pubsub", "2.0.0", {}, nullptr,
     "Channels are NATS subjects under --pubsub-prefix; __keyspace@N__/__keyevent@N__ channels "
     "come from the bucket follower. Confirmed once NATS holds the subscription."},
    {"psubscribe", -2, F::kPubSub | F::kLocal | F::kLoading | F::kStale, 0, 0, 0,
     CmdPSubscribe, "Listens for messages published to channels that match one or more "
     "patterns.", "pubsub", "2.0.0", {}, nullptr,
     "Subscribes to the narrowest NATS wildcard the glob allows and filters locally."},
    {"unsubscribe", -1, F::kPubSub | F::kLocal | F::kLoading | F::kStale, 0, 0, 0,
     CmdUnsubscribe, "Stops listening to messages posted to channels.", "pubsub", "2.0.0"},
    {"punsubscribe", -1, F::kPubSub | F::kLocal | F::kLoading | F::kStale, 0, 0, 0,
     CmdPUnsubscribe, "Stops listening to messages published to channels that match one or "
     "more patterns.", "pubsub", "2.0.0"},
    {"publish", 3, F::kPubSub | F::kLocal | F::kFast | F::kLoading | F::kStale, 0, 0, 0,
     CmdPublish, "Posts a message to a channel.", "pubsub", "2.0.0", {}, nullptr,
     "Returns the receivers on this gateway only; the message also goes to NATS, where other "
     "gateways and native subscribers receive it."},
    {"pubsub", -2, F::kLocal, 0, 0, 0, ContainerHandler, "A container for Pub/Sub commands.",
     "pubsub", "2.8.0", kPubsubSubcommands},
    // connection
    {"ping", -1, F::kLocal | F::kFast | F::kStale, 0, 0, 0, CmdPing,
     "Returns the server's liveliness response.", "connection", "1.0.0"},
    {"echo", 2, F::kLocal | F::kFast | F::kStale, 0, 0, 0, CmdEcho, "Returns the given string.",
     "connection", "1.0.0"},
    {"quit", -1, F::kLocal | F::kNoAuth | F::kFast | F::kLoading | F::kStale, 0, 0, 0, CmdQuit,
     "Closes the connection.", "connection", "1.0.0"},
    {"reset", 1, F::kLocal | F::kNoAuth | F::kFast | F::kLoading | F::kStale, 0, 0, 0, CmdReset,
     "Resets the connection.", "connection", "6.2.0"},
    {"hello", -1, F::kLocal | F::kNoAuth | F::kFast | F::kLoading | F::kStale, 0, 0, 0, CmdHello,
     "Handshakes with the Redis server.", "connection", "6.0.0", {}, nullptr,
     "Users come from --requirepass and --aclfile (see ACL)."},
    {"auth", -2, F::kLocal | F::kNoAuth | F::kFast | F::kLoading | F::kStale, 0, 0, 0, CmdAuth,
     "Authenticates the connection.", "connection", "1.0.0", {}, nullptr,
     "Users come from --requirepass and --aclfile (see ACL)."},
    {"select", 2, F::kLocal | F::kFast | F::kLoading | F::kStale, 0, 0, 0, CmdSelect,
     "Changes the selected database.", "connection", "1.0.0"},
    {"client", -2, F::kLocal, 0, 0, 0, ContainerHandler, "A container for client connection commands.",
     "connection", "2.4.0", kClientSubcommands},
    // server
    {"info", -1, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdInfo,
     "Returns information and statistics about the server.", "server", "1.0.0", {}, nullptr,
     "Reports redis_version 7.0.15 and loading:0; memory figures are the gateway's RSS; adds "
     "nats_* fields to stats; keyspace lists databases whose bucket follower runs."},
    {"config", -2, F::kLocal, 0, 0, 0, ContainerHandler, "A container for server configuration commands.",
     "server", "2.0.0", kConfigSubcommands},
    {"acl", -2, F::kLocal, 0, 0, 0, ContainerHandler, "A container for Access List Control commands.",
     "server", "6.0.0", kAclSubcommands},
    {"command", -1, F::kLocal | F::kLoading | F::kStale, 0, 0, 0, CmdCommand,
     "Returns detailed information about all commands.", "server", "2.8.13", kCommandSubcommands},
    {"time", 1, F::kLocal | F::kFast | F::kLoading | F::kStale, 0, 0, 0, CmdTime,
     "Returns the server time.", "server", "2.6.0"},
    {"function", -2, F::kLocal, 0, 0, 0, ContainerHandler, "A container for function commands.",
     "scripting", "7.0.0", kFunctionSubcommands},
    {"cluster", -2, F::kLocal, 0, 0, 0, CmdCluster, "A container for Redis Cluster commands.",
     "cluster", "3.0.0", {}, nullptr,
     "Every subcommand answers 'ERR This instance has cluster support disabled'."},
    // string
    {"get", 2, F::kReadOnly | F::kFast, 1, 1, 1, CmdGet, "Returns the string value of a key.",
     "string", "1.0.0"},
    {"set", -3, F::kWrite, 1, 1, 1, CmdSet,
     "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
     "string", "1.0.0", {}, SetAccess,
     "A TTL is a header of the value, checked on read; the bucket follower deletes expired keys "
     "from the bucket within about a second."},
    {"setnx", 3, F::kWrite | F::kFast, 1, 1, 1, CmdSetNx,
     "Set the string value of a key only when the key doesn't exist.", "string", "1.0.0"},
    {"setex", 4, F::kWrite, 1, 1, 1, CmdSetEx,
     "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
     "string", "2.0.0", {}, [](const resp::Request&) { return KeyAccess::kBlindWrite; }},
    {"psetex", 4, F::kWrite, 1, 1, 1, CmdPSetEx,
     "Sets both string value and expiration time in milliseconds of a key. The key is created "
     "if it doesn't exist.",
     "string", "2.6.0", {}, [](const resp::Request&) { return KeyAccess::kBlindWrite; }},
    {"getset", 3, F::kWrite | F::kFast, 1, 1, 1, CmdGetSet,
     "Returns the previous string value of a key after setting it to a new value.", "string",
     "1.0.0"},
    {"getdel", 2, F::kWrite | F::kFast, 1, 1, 1, CmdGetDel,
     "Returns the string value of a key after deleting the key.", "string", "6.2.0"},
    {"getex", -2, F::kWrite | F::kFast, 1, 1, 1, CmdGetEx,
     "Returns the string value of a key after setting its expiration time.", "string", "6.2.0",
     {}, GetExAccess},
    {"mget", -2, F::kReadOnly | F::kFast | F::kMultiKey, 1, -1, 1, CmdMGet,
     "Atomically returns the string values of one or more keys.", "string", "1.0.0", {},
     nullptr, "Reads each key on its own: not a snapshot across keys."},
    {"msetnx", -3, F::kWrite | F::kMultiKey, 1, -1, 2, CmdMSetNx,
     "Atomically modifies the string values of one or more keys only when all keys don't "
     "exist.", "string", "1.0.1", {}, nullptr,
     "All or nothing by compare-and-set creates, undone by CAS deletes when one fails; the "
     "created keys are visible to others until the undo."},
    {"mset", -3, F::kWrite | F::kMultiKey, 1, -1, 2, CmdMSet,
     "Atomically creates or modifies the string values of one or more keys.", "string", "1.0.1",
     {}, [](const resp::Request&) { return KeyAccess::kBlindWrite; },
     "One put per key: not atomic across keys (nats-server 2.9 has no multi-subject batch)."},
    {"append", 3, F::kWrite | F::kFast, 1, 1, 1, CmdAppend,
     "Appends a string to the value of a key. Creates the key if it doesn't exist.", "string",
     "2.0.0"},
    {"strlen", 2, F::kReadOnly | F::kFast, 1, 1, 1, CmdStrLen,
     "Returns the length of a string value.", "string", "2.2.0"},
    {"getrange", 4, F::kReadOnly, 1, 1, 1, CmdGetRange,
     "Returns a substring of the string stored at a key.", "string", "2.4.0"},
    {"substr", 4, F::kReadOnly, 1, 1, 1, CmdGetRange,
     "Returns a substring from a string value.", "string", "1.0.0"},
    {"setrange", 4, F::kWrite, 1, 1, 1, CmdSetRange,
     "Overwrites a part of a string value with another by an offset. Creates the key if it "
     "doesn't exist.",
     "string", "2.2.0"},
    {"lcs", -3, F::kReadOnly, 1, 2, 1, CmdLcs, "Finds the longest common substring.", "string",
     "7.0.0"},
    {"incr", 2, F::kWrite | F::kFast, 1, 1, 1, CmdIncr,
     "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "string", "1.0.0"},
    {"decr", 2, F::kWrite | F::kFast, 1, 1, 1, CmdDecr,
     "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "string", "1.0.0"},
    {"incrby", 3, F::kWrite | F::kFast, 1, 1, 1, CmdIncrBy,
     "Increments the integer value of a key by a number. Uses 0 as initial value if the key "
     "doesn't exist.",
     "string", "1.0.0"},
    {"decrby", 3, F::kWrite | F::kFast, 1, 1, 1, CmdDecrBy,
     "Decrements a number from the integer value of a key. Uses 0 as initial value if the key "
     "doesn't exist.",
     "string", "1.0.0"},
    {"incrbyfloat", 3, F::kWrite | F::kFast, 1, 1, 1, CmdIncrByFloat,
     "Increment the floating point value of a key by a number. Uses 0 as initial value if the "
     "key doesn't exist.",
     "string", "2.6.0"},
    // bitmap
    {"setbit", 4, F::kWrite, 1, 1, 1, CmdSetBit,
     "Sets or clears the bit at offset of the string value. Creates the key if it doesn't "
     "exist.",
     "bitmap", "2.2.0"},
    {"getbit", 3, F::kReadOnly | F::kFast, 1, 1, 1, CmdGetBit, "Returns a bit value by offset.",
     "bitmap", "2.2.0"},
    {"bitcount", -2, F::kReadOnly, 1, 1, 1, CmdBitCount,
     "Counts the number of set bits (population counting) in a string.", "bitmap", "2.6.0"},
    {"bitpos", -3, F::kReadOnly, 1, 1, 1, CmdBitPos,
     "Finds the first set (1) or clear (0) bit in a string.", "bitmap", "2.8.7"},
    {"bitop", -4, F::kWrite, 2, -1, 1, CmdBitOp,
     "Performs bitwise operations on multiple strings, and stores the result.", "bitmap",
     "2.6.0", {}, nullptr,
     "Sources are read one by one and the destination written after: not atomic across keys."},
    {"bitfield", -2, F::kWrite, 1, 1, 1, CmdBitField,
     "Performs arbitrary bitfield integer operations on strings.", "bitmap", "3.2.0", {},
     BitFieldAccess},
    {"bitfield_ro", -2, F::kReadOnly | F::kFast, 1, 1, 1, CmdBitFieldRo,
     "Performs arbitrary read-only bitfield integer operations on strings.", "bitmap", "6.0.0"},
    // generic: expiry and key introspection
    {"expire", -3, F::kWrite | F::kFast, 1, 1, 1, CmdExpire,
     "Sets the expiration time of a key in seconds.", "generic", "1.0.0"},
    {"pexpire", -3, F::kWrite | F::kFast, 1, 1, 1, CmdPExpire,
     "Sets the expiration time of a key in milliseconds.", "generic", "2.6.0"},
    {"expireat", -3, F::kWrite | F::kFast, 1, 1, 1, CmdExpireAt,
     "Sets the expiration time of a key to a Unix timestamp.", "generic", "1.2.0"},
    {"pexpireat", -3, F::kWrite | F::kFast, 1, 1, 1, CmdPExpireAt,
     "Sets the expiration time of a key to a Unix milliseconds timestamp.", "generic", "2.6.0"},
    {"ttl", 2, F::kReadOnly | F::kFast, 1, 1, 1, CmdTtl,
     "Returns the expiration time in seconds of a key.", "generic", "1.0.0"},
    {"pttl", 2, F::kReadOnly | F::kFast, 1, 1, 1, CmdPTtl,
     "Returns the expiration time in milliseconds of a key.", "generic", "2.6.0"},
    {"expiretime", 2, F::kReadOnly | F::kFast, 1, 1, 1, CmdExpireTime,
     "Returns the expiration time of a key as a Unix timestamp.", "generic", "7.0.0"},
    {"pexpiretime", 2, F::kReadOnly | F::kFast, 1, 1, 1, CmdPExpireTime,
     "Returns the expiration time of a key as a Unix milliseconds timestamp.", "generic",
     "7.0.0"},
    {"persist", 2, F::kWrite | F::kFast, 1, 1, 1, CmdPersist,
     "Removes the expiration time of a key.", "generic", "2.2.0"},
    {"type", 2, F::kReadOnly | F::kFast, 1, 1, 1, CmdType,
     "Determines the type of value stored at a key.", "generic", "1.0.0"},
    {"unlink", -2, F::kWrite | F::kFast | F::kMultiKey, 1, -1, 1, CmdDel,
     "Asynchronously deletes one or more keys.", "generic", "4.0.0", {}, nullptr,
     "The same as DEL: each key is deleted on its own (read, then a CAS delete marker); not "
     "atomic across keys."},
    {"touch", -2, F::kReadOnly | F::kFast | F::kMultiKey, 1, -1, 1, CmdTouch,
     "Returns the number of existing keys out of those specified after updating the time they "
     "were last accessed.",
     "generic", "3.2.1", {}, nullptr,
     "Counts the existing keys only: there is no access time to update (no eviction)."},
    // key moving and introspection. COPY and MOVE are barriers: they write a key of another
    // database, which per-key ordering (compared within one database) would not see.
    {"rename", 3, F::kWrite, 1, 2, 1, CmdRename, "Renames a key and overwrites the destination.",
     "generic", "1.0.0", {}, nullptr,
     "Not atomic across keys: writes the destination (value and TTL), then deletes the source "
     "with CAS; if the source changed in between, the rename still answers OK and the newer "
     "source value is kept."},
    {"renamenx", 3, F::kWrite | F::kFast, 1, 2, 1, CmdRenameNx,
     "Renames a key only when the target key name doesn't exist.", "generic", "1.0.0", {},
     nullptr,
     "Not atomic across keys: a CAS create of the destination, then a CAS delete of the source; "
     "if the source changed in between, it answers 1 and the newer source value is kept."},
    {"copy", -3, F::kWrite | F::kBarrier, 1, 2, 1, CmdCopy,
     "Copies the value of a key to a new key.", "generic", "6.2.0", {}, nullptr,
     "Not atomic across keys: the source is read, then the destination written with CAS on "
     "the revision read."},
    {"move", 3, F::kWrite | F::kFast | F::kBarrier, 1, 1, 1, CmdMove,
     "Moves a key to another database.", "generic", "1.0.0", {}, nullptr,
     "Not atomic across buckets: a CAS create in the target database's bucket, then a CAS "
     "delete of the source; if the source changed in between, it answers 1 and keeps it."},
    {"swapdb", 3, F::kWrite | F::kFast | F::kBarrier, 0, 0, 0, CmdSwapDb,
     "Swaps two Redis databases.", "server", "4.0.0", {}, nullptr,
     "Validates its arguments as Redis does, then answers 'ERR SWAPDB is not supported' (each "
     "database is its own NATS bucket); swapping a database with itself answers OK."},
    {"object", -2, F::kLocal, 0, 0, 0, ContainerHandler,
     "A container for object introspection commands.", "generic", "2.2.3", kObjectSubcommands},
    // keyspace-wide
    {"dbsize", 1, F::kReadOnly | F::kFast | F::kBarrier, 0, 0, 0, CmdDbSize,
     "Returns the number of keys in the database.", "server", "1.0.0", {}, nullptr,
     "Answered from the bucket follower's index, after it applied this gateway's writes."},
    {"keys", 2, F::kReadOnly | F::kBarrier, 0, 0, 0, CmdKeys,
     "Returns all key names that match a pattern.", "generic", "1.0.0", {}, nullptr,
     "Answered from the bucket follower's index; no value is loaded."},
    {"scan", -2, F::kReadOnly | F::kBarrier, 0, 0, 0, CmdScan,
     "Iterates over the key names in the database.", "generic", "2.8.0", {}, nullptr,
     "Cursors are positions in a fixed 64-bit hash order, so any gateway continues them; TYPE "
     "knows strings only (the only type so far)."},
    {"randomkey", 1, F::kReadOnly | F::kBarrier, 0, 0, 0, CmdRandomKey,
     "Returns a random key name from the database.", "generic", "1.0.0"},
    {"flushdb", -1, F::kWrite | F::kBarrier, 0, 0, 0, CmdFlushDb,
     "Removes all keys from the current database.", "server", "1.0.0", {}, nullptr,
     "One Nats-Rollup: all purge marker in the database's bucket; ASYNC and SYNC are alike."},
    {"flushall", -1, F::kWrite | F::kBarrier, 0, 0, 0, CmdFlushAll,
     "Removes all keys from all databases.", "server", "1.0.0", {}, nullptr,
     "One Nats-Rollup: all purge marker in each database bucket; ASYNC and SYNC are alike."},
    // generic
    {"del", -2, F::kWrite | F::kMultiKey, 1, -1, 1, CmdDel, "Deletes one or more keys.", "generic",
     "1.0.0", {}, nullptr,
     "Each key is deleted on its own (read, then a CAS delete marker); a multi-key DEL is not "
     "atomic across keys."},
    {"exists", -2, F::kReadOnly | F::kFast | F::kMultiKey, 1, -1, 1, CmdExists,
     "Determines whether one or more keys exist.", "generic", "1.0.0"},
};

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Looked up by string_view, without building a std::string per command.
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
using CommandIndex =
    std::unordered_map<std::string, const CommandSpec*, NameHash, std::equal_to<>>;

const CommandIndex& Index() {
  static const auto* index = [] {
    auto* m = new CommandIndex();
    for (const CommandSpec& spec : kCommands) m->emplace(std::string(spec.name), &spec);
    for (const CommandSpec& spec : kCommands) {
      for (const CommandSpec& sub : spec.subcommands) m->emplace(std::string(sub.name), &sub);
    }
    return m;
  }();
  return *index;
}

}  // namespace

KeyAccess CommandSpec::AccessFor(const resp::Request& request) const {
  if (access != nullptr) return access(request);
  if (!has_keys()) return KeyAccess::kNone;
  if (flags.has(CommandFlag::kWrite)) return KeyAccess::kWrite;
  if (flags.has(CommandFlag::kReadOnly)) return KeyAccess::kRead;
  return KeyAccess::kNone;
}

const CommandSpec* FindCommand(std::string_view name) {
  if (name.size() > 64) return nullptr;
  char buf[64];
  for (size_t i = 0; i < name.size(); ++i) {
    const char ch = name[i];
    if (ch == '|') return nullptr;  // subcommands only via their parent
    buf[i] = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + ('a' - 'A')) : ch;
  }
  std::string_view lower(buf, name.size());
  const auto& index = Index();
  auto it = index.find(lower);
  return it == index.end() ? nullptr : it->second;
}

const CommandSpec* FindSubcommand(const CommandSpec& container, std::string_view name) {
  std::string full = std::string(container.name) + "|" + LowerAscii(name);
  const auto& index = Index();
  auto it = index.find(full);
  return it == index.end() ? nullptr : it->second;
}

std::span<const CommandSpec> AllCommands() { return kCommands; }

namespace {

std::string ValidateRow(const CommandSpec& spec, std::set<std::string>* names) {
  std::string name(spec.name);
  if (!names->insert(name).second) return "duplicate command '" + name + "'";
  if (spec.handler == nullptr) return "no handler for '" + name + "'";
  int kinds = spec.flags.has(CommandFlag::kWrite) + spec.flags.has(CommandFlag::kReadOnly) +
              spec.flags.has(CommandFlag::kLocal);
  if (kinds != 1) return "'" + name + "' needs exactly one of write/readonly/local";
  if (spec.arity == 0) return "'" + name + "' has arity 0";
  if (spec.has_keys()) {
    int min_args = spec.arity > 0 ? spec.arity : -spec.arity;
    if (spec.first_key >= min_args) return "'" + name + "' first key beyond arity";
    if (spec.last_key > 0 && spec.last_key >= min_args && spec.arity > 0) {
      return "'" + name + "' last key beyond arity";
    }
    if (spec.key_step <= 0) return "'" + name + "' key step must be positive";
    // A local command with keys must say how it touches them (WATCH reads its keys).
    if (spec.flags.has(CommandFlag::kLocal) && spec.access == nullptr) {
      return "'" + name + "' is local but has keys and no access function";
    }
  } else if (spec.flags.has(CommandFlag::kWrite) || spec.flags.has(CommandFlag::kReadOnly)) {
    if (!spec.flags.has(CommandFlag::kBarrier)) {
      return "'" + name + "' touches data but declares no keys and is not a barrier";
    }
  }
  if (spec.summary.empty() || spec.group.empty() || spec.since.empty()) {
    return "'" + name + "' lacks its documentation fields";
  }
  for (const CommandSpec& sub : spec.subcommands) {
    if (sub.name.substr(0, spec.name.size() + 1) != name + "|") {
      return "subcommand '" + std::string(sub.name) + "' not named after '" + name + "'";
    }
    std::string err = ValidateRow(sub, names);
    if (!err.empty()) return err;
  }
  return {};
}

}  // namespace

std::string ValidateCommandTable() {
  std::set<std::string> names;
  for (const CommandSpec& spec : kCommands) {
    std::string err = ValidateRow(spec, &names);
    if (!err.empty()) return err;
  }
  return {};
}

}  // namespace gateway
