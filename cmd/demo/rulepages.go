package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web/feedview"
	"github.com/tidingsdev/tidings/workflow"
)

// condRow is one condition of the rule form.
type condRow struct {
	Attribute, Operator, Value string
	Err                        map[string]string // "attribute", "operator", "value", "" for the row
}

// actRow is one action of the rule form: its type and the raw text of
// every parameter of every action type (only the chosen type's are read).
type actRow struct {
	Type   string
	Params map[string]string // "<type>.<param>" -> text
	Err    map[string]string // "type", "params.<param>", "" for the row
}

type ruleForm struct {
	ID                    int64
	Version               int64 // the version edited, for optimistic locking
	Name                  string
	TriggeredOn           string
	ScopeIssue            string
	Enabled               bool
	AllowWorkflowTriggers bool
	Conds                 []condRow
	ConditionsJSON        string // when set, used instead of the rows (for any_of/all_of groups)
	Acts                  []actRow
	Errors                map[string]string // name, triggered_on, scope, conditions, actions
	Other                 []string          // problems without a field of the form
	Saved                 bool

	DryRun *dryRunView

	// What the editor offers.
	Triggers   []string
	Attributes []workflow.Attribute
	Operators  []string
	Actions    []workflow.ActionInfo
}

type dryRunView struct {
	Checked, Matched int
	Events           []dryRunEvent
}

type dryRunEvent struct {
	feedview.Line
	Matched     bool
	Explanation string
	Error       string
}

var allOperators = []string{"eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "starts_with", "matches",
	"exists", "not_exists", "older_than", "newer_than", "changed_from", "changed_to"}

func (a *App) newRuleForm() *ruleForm {
	f := &ruleForm{
		Errors:     map[string]string{},
		Triggers:   a.issues.Actions(),
		Attributes: a.rules.Schema(a.issues.Name()).Attributes(),
		Operators:  allOperators,
		Actions:    a.rules.Registry().Describe(),
	}
	return f
}

// pad adds blank rows so the form always offers one more of each.
func (f *ruleForm) pad() {
	if f.ConditionsJSON == "" {
		if n := len(f.Conds); n == 0 || f.Conds[n-1].Attribute != "" || f.Conds[n-1].Operator != "" || f.Conds[n-1].Value != "" {
			f.Conds = append(f.Conds, condRow{})
		}
	}
	if len(f.Acts) == 0 {
		f.Acts = append(f.Acts, actRow{Params: map[string]string{}})
	}
}

// formOf fills the form from a saved rule.
func (a *App) formOf(r workflow.Rule) *ruleForm {
	f := a.newRuleForm()
	f.ID, f.Name, f.TriggeredOn, f.Enabled, f.AllowWorkflowTriggers = r.ID, r.Name, r.TriggeredOn, r.Enabled, r.AllowWorkflowTriggers
	f.Version = r.Version
	if r.Scope.Kind == workflow.ScopeSubject {
		f.ScopeIssue = r.Scope.ID
	}
	grouped := false
	for _, c := range r.Conditions {
		if c.AnyOf != nil || c.AllOf != nil {
			grouped = true
		}
	}
	if grouped {
		b, _ := json.MarshalIndent(r.Conditions, "", "  ")
		f.ConditionsJSON = string(b)
	} else {
		for _, c := range r.Conditions {
			f.Conds = append(f.Conds, condRow{Attribute: c.Attribute, Operator: string(c.Operator), Value: valueText(c.Value)})
		}
	}
	for _, act := range r.Actions {
		row := actRow{Type: act.Type, Params: map[string]string{}}
		for k, v := range act.Params {
			row.Params[act.Type+"."+k] = valueText(v)
		}
		f.Acts = append(f.Acts, row)
	}
	return f
}

func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = valueText(e)
		}
		return strings.Join(parts, ", ")
	case []string:
		return strings.Join(x, ", ")
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// parseRuleForm reads the posted form into the form's rows and the rule.
func (a *App) parseRuleForm(r *http.Request, id int64) (*ruleForm, workflow.Rule) {
	f := a.newRuleForm()
	f.ID = id
	f.Name = strings.TrimSpace(r.PostFormValue("name"))
	f.TriggeredOn = r.PostFormValue("triggered_on")
	f.ScopeIssue = strings.TrimSpace(r.PostFormValue("scope_issue"))
	f.Enabled = r.PostFormValue("enabled") != ""
	f.AllowWorkflowTriggers = r.PostFormValue("allow_workflow_triggers") != ""
	f.ConditionsJSON = strings.TrimSpace(r.PostFormValue("conditions_json"))
	rule := workflow.Rule{ID: id, Name: f.Name, Domain: a.issues.Name(), TriggeredOn: f.TriggeredOn,
		Enabled: f.Enabled, AllowWorkflowTriggers: f.AllowWorkflowTriggers, Scope: workflow.DomainScope()}
	if f.ScopeIssue != "" {
		rule.Scope = workflow.SubjectScope(f.ScopeIssue)
	}
	types := map[string]workflow.Type{}
	for _, at := range f.Attributes {
		types[at.Name] = at.Type
	}
	attrs, ops, vals := r.PostForm["cond_attribute"], r.PostForm["cond_operator"], r.PostForm["cond_value"]
	for i := range attrs {
		row := condRow{Attribute: attrs[i]}
		if i < len(ops) {
			row.Operator = ops[i]
		}
		if i < len(vals) {
			row.Value = vals[i]
		}
		if row.Attribute == "" && row.Operator == "" && strings.TrimSpace(row.Value) == "" {
			continue // a blank row
		}
		f.Conds = append(f.Conds, row)
	}
	if f.ConditionsJSON != "" {
		var cs workflow.Conditions
		if err := json.Unmarshal([]byte(f.ConditionsJSON), &cs); err != nil {
			f.Errors["conditions"] = "is not a JSON list of conditions: " + err.Error()
		}
		rule.Conditions = cs
	} else {
		for _, row := range f.Conds {
			rule.Conditions = append(rule.Conditions, workflow.Condition{Attribute: row.Attribute, Operator: workflow.Operator(row.Operator),
				Value: conditionValue(row.Operator, row.Value, types[row.Attribute])})
		}
	}
	infos := map[string]workflow.ActionInfo{}
	for _, ai := range f.Actions {
		infos[ai.Name] = ai
	}
	for i, typ := range r.PostForm["action_type"] {
		row := actRow{Type: typ, Params: map[string]string{}}
		prefix := fmt.Sprintf("action%d.", i)
		for k, v := range r.PostForm {
			if strings.HasPrefix(k, prefix) && len(v) > 0 {
				row.Params[strings.TrimPrefix(k, prefix)] = v[0]
			}
		}
		if typ == "" {
			continue
		}
		f.Acts = append(f.Acts, row)
		params := workflow.Params{}
		for name, p := range infos[typ].Params {
			raw, ok := row.Params[typ+"."+name]
			if !ok || strings.TrimSpace(raw) == "" {
				continue
			}
			params[name] = paramValue(raw, p.Type)
		}
		rule.Actions = append(rule.Actions, workflow.Do(typ, params))
	}
	return f, rule
}

// conditionValue turns a form's text into the condition's JSON value,
// typed by the attribute; the schema then checks it.
func conditionValue(op, text string, t workflow.Type) any {
	text = strings.TrimSpace(text)
	switch workflow.Operator(op) {
	case workflow.OpExists, workflow.OpNotExists:
		return nil
	case workflow.OpIn, workflow.OpNotIn:
		var list []any
		for _, s := range strings.Split(text, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, scalar(s, t.Kind()))
			}
		}
		return list
	case workflow.OpOlderThan, workflow.OpNewerThan, workflow.OpMatches:
		return text
	}
	if text == "" {
		return nil
	}
	return scalar(text, t.Kind())
}

func scalar(s string, kind workflow.Type) any {
	switch kind {
	case workflow.Number:
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	case workflow.Bool:
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return s
}

func paramValue(s string, t workflow.Type) any {
	if t.IsList() {
		var list []any
		for _, e := range strings.Split(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				list = append(list, scalar(e, t.Kind()))
			}
		}
		return list
	}
	return scalar(s, t.Kind())
}

var problemField = regexp.MustCompile(`^(conditions|actions)\[(\d+)\](?:\.(.+))?$`)

// placeErrors puts each problem at its field of the form.
func (f *ruleForm) placeErrors(err error) {
	var ve *workflow.ValidationError
	if !errors.As(err, &ve) {
		f.Other = append(f.Other, err.Error())
		return
	}
	for _, p := range ve.Problems {
		m := problemField.FindStringSubmatch(p.Field)
		switch {
		case m != nil && m[1] == "conditions" && f.ConditionsJSON == "":
			i, _ := strconv.Atoi(m[2])
			if i < len(f.Conds) {
				if f.Conds[i].Err == nil {
					f.Conds[i].Err = map[string]string{}
				}
				key := m[3]
				if key != "attribute" && key != "operator" && key != "value" {
					key = ""
				}
				f.Conds[i].Err[key] = joinMsg(f.Conds[i].Err[key], p.Message)
				continue
			}
		case m != nil && m[1] == "actions":
			i, _ := strconv.Atoi(m[2])
			if i < len(f.Acts) {
				if f.Acts[i].Err == nil {
					f.Acts[i].Err = map[string]string{}
				}
				key := m[3]
				if key != "type" && !strings.HasPrefix(key, "params.") {
					key = ""
				}
				if strings.HasPrefix(key, "params.") {
					key = f.Acts[i].Type + "." + strings.TrimPrefix(key, "params.")
				}
				f.Acts[i].Err[key] = joinMsg(f.Acts[i].Err[key], p.Message)
				continue
			}
		case m != nil && m[1] == "conditions":
			f.Errors["conditions"] = joinMsg(f.Errors["conditions"], p.String())
			continue
		}
		switch field, _, _ := strings.Cut(p.Field, "."); field {
		case "name", "triggered_on", "conditions", "actions", "enabled":
			f.Errors[field] = joinMsg(f.Errors[field], p.Message)
		case "scope", "domain":
			f.Errors["scope"] = joinMsg(f.Errors["scope"], p.String())
		default:
			f.Other = append(f.Other, p.String())
		}
	}
}

func joinMsg(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// listRules lists the workflow rules.
func (a *App) listRules(w http.ResponseWriter, r *http.Request) {
	rules, err := a.rules.List(r.Context(), workflow.RuleQuery{Domain: a.issues.Name()})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "rules", "Workflow rules", "rules", rules)
}

// newRule shows an empty rule form.
func (a *App) newRule(w http.ResponseWriter, r *http.Request) {
	f := a.newRuleForm()
	f.Enabled = true
	f.TriggeredOn = ActionCommentAdded
	f.pad()
	a.render(w, r, http.StatusOK, "rule_form", "New rule", "rules", f)
}

// editRule shows a saved rule's form.
func (a *App) editRule(w http.ResponseWriter, r *http.Request) {
	rule, ok := a.loadRule(w, r)
	if !ok {
		return
	}
	f := a.formOf(rule)
	f.pad()
	a.render(w, r, http.StatusOK, "rule_form", "Edit "+rule.Name, "rules", f)
}

func (a *App) loadRule(w http.ResponseWriter, r *http.Request) (workflow.Rule, bool) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	rule, err := a.rules.Get(r.Context(), id)
	if errors.Is(err, workflow.ErrRuleNotFound) {
		a.notFound(w, r, "Rule "+r.PathValue("id"))
		return rule, false
	}
	if err != nil {
		a.fail(w, r, err)
		return rule, false
	}
	return rule, true
}

// saveRule handles the rule form's buttons: save, dry run, and adding a
// condition or an action row.
func (a *App) saveRule(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var id int64
	if r.PathValue("id") != "" {
		saved, ok := a.loadRule(w, r)
		if !ok {
			return
		}
		id = saved.ID
	}
	if err := parseForm(w, r); err != nil {
		http.Error(w, "the rule form is too large or malformed: keep it under 256 KiB", http.StatusRequestEntityTooLarge)
		return
	}
	var bad string
	for k, vs := range r.PostForm {
		for _, v := range vs {
			if p := textProblem("field "+k, v); p != "" && bad == "" {
				bad = p
			}
		}
		for i, v := range vs {
			vs[i] = strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "")
		}
	}
	f, rule := a.parseRuleForm(r, id)
	rule.Version, _ = strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	f.Version = rule.Version
	if bad != "" {
		f.Other = append(f.Other, bad)
		f.pad()
		a.render(w, r, http.StatusUnprocessableEntity, "rule_form", "Rule", "rules", f)
		return
	}
	me := a.currentUser(r)
	by := "users:" + strconv.FormatInt(me.ID, 10)
	status := http.StatusOK
	switch r.PostFormValue("op") {
	case "add_condition":
		f.Conds = append(f.Conds, condRow{})
	case "add_action":
		f.Acts = append(f.Acts, actRow{Params: map[string]string{}})
	case "dryrun":
		if len(f.Errors) > 0 {
			status = http.StatusUnprocessableEntity
			break
		}
		dr, err := a.rules.DryRun(ctx, rule, 20)
		if err != nil {
			f.placeErrors(err)
			status = http.StatusUnprocessableEntity
			break
		}
		view := &dryRunView{Checked: dr.Checked, Matched: dr.Matched}
		ids := make([]int64, 0, len(dr.Events))
		for _, e := range dr.Events {
			if n, err := strconv.ParseInt(e.Event.SubjectID, 10, 64); err == nil {
				ids = append(ids, n)
			}
		}
		titles, err := a.issueTitles(r, ids)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		evs := make([]activity.Event, len(dr.Events))
		for i, e := range dr.Events {
			evs[i] = e.Event
		}
		entries, err := a.issues.Resolve(ctx, a.db, evs)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		for i, e := range dr.Events {
			view.Events = append(view.Events, dryRunEvent{Line: a.feedr.Line(entries[i], titles), Matched: e.Matched, Explanation: e.Explanation, Error: e.Error})
		}
		f.DryRun = view
	default: // save
		if len(f.Errors) > 0 {
			status = http.StatusUnprocessableEntity
			break
		}
		var saved workflow.Rule
		var err error
		if id == 0 {
			saved, err = a.rules.Create(ctx, by, rule)
		} else {
			saved, err = a.rules.Update(ctx, by, rule)
		}
		var conflict *workflow.ConflictError
		if errors.As(err, &conflict) {
			f.Other = append(f.Other, fmt.Sprintf("Someone else saved this rule meanwhile (%s, %s): your changes are not saved. Open the rule again to see theirs, then apply yours.",
				a.whoName(r.Context(), conflict.UpdatedBy), feedview.Ago(a.cfg.Now(), conflict.UpdatedAt)))
			status = http.StatusConflict
			break
		}
		if err != nil {
			f.placeErrors(err)
			status = http.StatusUnprocessableEntity
			break
		}
		http.Redirect(w, r, fmt.Sprintf("/rules/%d", saved.ID), http.StatusSeeOther)
		return
	}
	f.pad()
	title := "New rule"
	if id != 0 {
		title = "Edit " + f.Name
	}
	a.render(w, r, status, "rule_form", title, "rules", f)
}

type ruleData struct {
	CreatedBy, UpdatedBy string // names, not "users:1"
	Rule                 workflow.Rule
	Runs                 []runView
	JSON                 string
}

type runView struct {
	workflow.Run
	IssueTitle string
}

// showRule shows a rule and its run log.
func (a *App) showRule(w http.ResponseWriter, r *http.Request) {
	rule, ok := a.loadRule(w, r)
	if !ok {
		return
	}
	runs, err := a.rules.Runs(r.Context(), workflow.RunQuery{RuleID: rule.ID, Limit: 50})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := ruleData{Rule: rule, CreatedBy: a.whoName(r.Context(), rule.CreatedBy), UpdatedBy: a.whoName(r.Context(), rule.UpdatedBy)}
	b, _ := json.MarshalIndent(rule, "", "  ")
	d.JSON = string(b)
	ids := make([]int64, 0, len(runs))
	for _, run := range runs {
		if n, err := strconv.ParseInt(run.SubjectID, 10, 64); err == nil {
			ids = append(ids, n)
		}
	}
	titles, err := a.issueTitles(r, ids)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, run := range runs {
		d.Runs = append(d.Runs, runView{Run: run, IssueTitle: titles[run.SubjectID]})
	}
	a.render(w, r, http.StatusOK, "rule", rule.Name, "rules", d)
}

// toggleRule enables or disables a rule.
func (a *App) toggleRule(w http.ResponseWriter, r *http.Request) {
	rule, ok := a.loadRule(w, r)
	if !ok {
		return
	}
	me := a.currentUser(r)
	if _, err := a.rules.SetEnabled(r.Context(), "users:"+strconv.FormatInt(me.ID, 10), rule.ID, !rule.Enabled); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/rules/%d", rule.ID), http.StatusSeeOther)
}

// deleteRule deletes a rule.
func (a *App) deleteRule(w http.ResponseWriter, r *http.Request) {
	rule, ok := a.loadRule(w, r)
	if !ok {
		return
	}
	if err := a.rules.Delete(r.Context(), rule.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/rules", http.StatusSeeOther)
}

// issueTitles loads the titles of issues by id, keyed by the id as text.
func (a *App) issueTitles(r *http.Request, ids []int64) (map[string]string, error) {
	return a.titlesOf(r.Context(), ids)
}

// whoName names who saved a rule: "users:3" is that user's name; other
// savers ("app:demo", rules kept in code) read as they are.
func (a *App) whoName(ctx context.Context, by string) string {
	if id, ok := strings.CutPrefix(by, "users:"); ok {
		var u User
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && a.db.WithContext(ctx).Take(&u, n).Error == nil {
			return u.Name
		}
	}
	if by == "app:demo" {
		return "the demo's code"
	}
	return by
}
