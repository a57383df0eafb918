package controller

// The controller's state machine as one step function (STYLE.md habit 8):
// State.Apply takes a command that raft committed and returns its Result.
// Apply has no goroutines, no I/O and no clock; every input it needs (which
// brokers the leader saw alive, whether unclean election is on) is in the
// command, so every node that applies the same log reaches the same state.
//
// A command that is refused changes nothing: its checks all run before its
// first write. This is where stale requests are fenced, in log order,
// rather than when the leader receives them (RocketMQ checks before it
// appends the event, so two requests in flight can both pass).

// Command is one replicated write.
type Command interface{ kind() kind }

// kind numbers the commands in the log encoding (codec.go); never reused.
type kind uint8

const (
	kindApplyBrokerID     kind = 1
	kindRegisterBroker    kind = 2
	kindAlterSyncStateSet kind = 3
	kindElectMaster       kind = 4
	kindCleanBrokerData   kind = 5
	kindSetControllerAddr kind = 6
)

// Result is the outcome of a command: a code (Success or RocketMQ's reason
// for refusing), a remark for people, and the group as it is after the
// step.
type Result struct {
	Code   Code
	Remark string
	Group  Group
	// HasGroup says Group is set (the group exists after the step).
	HasGroup bool
}

// Apply applies cmd to s.
func (s *State) Apply(cmd Command) Result {
	switch c := cmd.(type) {
	case *ApplyBrokerID:
		return s.applyBrokerID(c)
	case *RegisterBroker:
		return s.registerBroker(c)
	case *AlterSyncStateSet:
		return s.alterSyncStateSet(c)
	case *ElectMaster:
		return s.electMaster(c)
	case *CleanBrokerData:
		return s.cleanBrokerData(c)
	case *SetControllerAddr:
		return s.setControllerAddr(c)
	}
	return refuse(ControllerInvalidRequest, "unknown command")
}

func refuse(code Code, remark string) Result { return Result{Code: code, Remark: remark} }

// refuseIn is a refusal that still reports the group as it is.
func refuseIn(g *Group, code Code, remark string) Result {
	return Result{Code: code, Remark: remark, Group: g.clone(), HasGroup: true}
}

func ok(g *Group) Result { return Result{Code: Success, Group: g.clone(), HasGroup: true} }

// SetControllerAddr records the remoting address of a controller; a new
// leader applies it for itself.
type SetControllerAddr struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

func (*SetControllerAddr) kind() kind { return kindSetControllerAddr }

func (s *State) setControllerAddr(c *SetControllerAddr) Result {
	if c.ID == "" {
		return refuse(ControllerInvalidRequest, "empty controller id")
	}
	if s.controllers == nil {
		s.controllers = make(map[string]string)
	}
	s.controllers[c.ID] = c.Addr
	return Result{Code: Success}
}
