// SPDX-License-Identifier: Apache-2.0
//
// Handlers of every command family. Each handler receives a started Call, parses its
// arguments first (a parse failure replies at once and never reaches the backend), then runs,
// and finishes the call exactly once, synchronously or from a backend completion.
//
// Thread: the loop thread.
#pragma once

#include "gateway/command_table.h"

namespace gateway {

// acl_commands.cc
void CmdAclCat(Call& call);
void CmdAclDelUser(Call& call);
void CmdAclDryRun(Call& call);
void CmdAclGenPass(Call& call);
void CmdAclGetUser(Call& call);
void CmdAclList(Call& call);
void CmdAclLoad(Call& call);
void CmdAclLog(Call& call);
void CmdAclSave(Call& call);
void CmdAclSetUser(Call& call);
void CmdAclUsers(Call& call);
void CmdAclWhoami(Call& call);

// connection_commands.cc
void CmdPing(Call& call);
void CmdEcho(Call& call);
void CmdQuit(Call& call);
void CmdReset(Call& call);
void CmdHello(Call& call);
void CmdAuth(Call& call);
void CmdSelect(Call& call);
void CmdClientId(Call& call);
void CmdClientSetName(Call& call);
void CmdClientGetName(Call& call);
void CmdClientSetInfo(Call& call);
void CmdClientInfo(Call& call);
void CmdClientList(Call& call);
void CmdClientReply(Call& call);

// msetnx_command.cc
void CmdMSetNx(Call& call);

// multi_commands.cc
void CmdMulti(Call& call);
void CmdExec(Call& call);
void CmdDiscard(Call& call);
void CmdWatch(Call& call);
void CmdUnwatch(Call& call);

// pubsub_commands.cc
void CmdSubscribe(Call& call);
void CmdPSubscribe(Call& call);
void CmdUnsubscribe(Call& call);
void CmdPUnsubscribe(Call& call);
void CmdPublish(Call& call);
void CmdPubsubChannels(Call& call);
void CmdPubsubNumsub(Call& call);
void CmdPubsubNumpat(Call& call);

// server_commands.cc
void CmdInfo(Call& call);
void CmdConfigGet(Call& call);
void CmdConfigSet(Call& call);
void CmdConfigResetStat(Call& call);
void CmdConfigRewrite(Call& call);
void CmdCommand(Call& call);
void CmdCommandCount(Call& call);
void CmdCommandInfo(Call& call);
void CmdCommandDocs(Call& call);
void CmdCommandList(Call& call);
void CmdTime(Call& call);
void CmdFunctionFlush(Call& call);
void CmdCluster(Call& call);

// string_commands.cc
void CmdGet(Call& call);
void CmdSet(Call& call);
KeyAccess SetAccess(const resp::Request& request);

// string_commands.cc (continued)
void CmdSetNx(Call& call);
void CmdSetEx(Call& call);
void CmdPSetEx(Call& call);
void CmdGetSet(Call& call);
void CmdGetDel(Call& call);
void CmdGetEx(Call& call);
void CmdMGet(Call& call);
void CmdMSet(Call& call);
void CmdAppend(Call& call);
void CmdStrLen(Call& call);
void CmdGetRange(Call& call);  // GETRANGE and SUBSTR
void CmdSetRange(Call& call);
void CmdLcs(Call& call);
KeyAccess GetExAccess(const resp::Request& request);

// counter_commands.cc
void CmdIncr(Call& call);
void CmdDecr(Call& call);
void CmdIncrBy(Call& call);
void CmdDecrBy(Call& call);
void CmdIncrByFloat(Call& call);

// bit_commands.cc
void CmdSetBit(Call& call);
void CmdGetBit(Call& call);
void CmdBitCount(Call& call);
void CmdBitPos(Call& call);
void CmdBitOp(Call& call);
void CmdBitField(Call& call);
void CmdBitFieldRo(Call& call);
KeyAccess BitFieldAccess(const resp::Request& request);

// expire_commands.cc
void CmdExpire(Call& call);
void CmdPExpire(Call& call);
void CmdExpireAt(Call& call);
void CmdPExpireAt(Call& call);
void CmdTtl(Call& call);
void CmdPTtl(Call& call);
void CmdExpireTime(Call& call);
void CmdPExpireTime(Call& call);
void CmdPersist(Call& call);
void CmdType(Call& call);

// keyspace_commands.cc (answered from the bucket follower's index)
void CmdDbSize(Call& call);
void CmdKeys(Call& call);
void CmdScan(Call& call);
void CmdRandomKey(Call& call);

// key_move_commands.cc
void CmdRename(Call& call);
void CmdRenameNx(Call& call);
void CmdCopy(Call& call);
void CmdMove(Call& call);
void CmdSwapDb(Call& call);

// object_commands.cc (subcommands of OBJECT)
void CmdObjectEncoding(Call& call);
void CmdObjectFreq(Call& call);
void CmdObjectIdleTime(Call& call);
void CmdObjectRefCount(Call& call);
void CmdObjectHelp(Call& call);

// db_commands.cc
void CmdFlushDb(Call& call);
void CmdFlushAll(Call& call);

// key_commands.cc
void CmdDel(Call& call);
void CmdExists(Call& call);
void CmdTouch(Call& call);  // UNLINK uses CmdDel

}  // namespace gateway
