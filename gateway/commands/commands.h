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

// key_commands.cc
void CmdDel(Call& call);
void CmdExists(Call& call);

}  // namespace gateway
