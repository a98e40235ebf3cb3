// Every text of the student app, in one place so it can be translated: `t("key", { name })`.
export const strings = {
  app_name: "Friend",
  nav_today: "Today", nav_friends: "Friends", nav_chats: "Chats", nav_notes: "Notes", nav_reports: "Reports", nav_inbox: "Inbox", nav_settings: "Settings",
  offline: "Offline: showing what was last loaded. Messages you send wait and go out when the connection returns.",
  signin_title: "Sign in", signin_login: "Email or username", signin_password: "Password", signin_button: "Sign in",
  signin_code: "Two-factor code", signin_need_code: "Type the code of your authenticator app.",
  register_title: "Create an account", register_email: "Email", register_username: "Username", register_name: "Your name",
  register_password: "Password (8 characters or more)", register_invite: "Invite code from your school", register_button: "Create account",
  reset_title: "I have a code", reset_hint: "A teacher gave you a setup or reset code: choose your password with it.",
  reset_login: "Username", reset_code: "Code", reset_password: "New password", reset_button: "Set my password", reset_done: "Password set. Sign in with it.",
  have_account: "Sign in", no_account: "Create an account", have_code: "I have a code",
  today_title: "Today", timer_subject: "Subject", timer_start: "Start studying", timer_stop: "Stop", timer_running: "Studying {subject} since {since}",
  today_total: "Studied today: {minutes} min", streak: "Streak: {days} days", streak_one: "Streak: 1 day", sleep: "Sleep last night (hours)", mood: "How do you feel?", save_day: "Save",
  day_saved: "Saved.", goals: "Goals", no_goals: "No goals yet.", goal_line: "{title}: {percent}%",
  mood_1: "Awful", mood_2: "Low", mood_3: "OK", mood_4: "Good", mood_5: "Great",
  friends_title: "Friends", find_people: "Find people", search_people: "Name or username", add_friend: "Add friend", requested: "Requested",
  incoming: "Requests for you", outgoing: "Your requests", accept: "Accept", reject: "Reject", withdraw: "Withdraw", no_friends: "No friends yet: find someone above.",
  online: "online", offline_short: "offline", studying: "studying {subject}", message: "Message", block: "Block", unfriend: "Unfriend", suggestions: "People you may know",
  chats_title: "Chats", no_chats: "No chats yet: message a friend from Friends.", type_message: "Message", send: "Send",
  typing: "{name} is typing…", sent: "sent", delivered: "delivered", read: "read", pending: "waiting to send", deleted_message: "message deleted", edited: "edited",
  reply: "Reply", edit: "Edit", delete: "Delete", replying_to: "Replying to: {text}", cancel: "Cancel", attach: "Attach a file", load_older: "Older messages",
  notes_title: "Notes", new_note: "New note", note_title: "Title", note_content: "Text (Markdown)", note_tags: "Tags (comma separated)", note_visibility: "Who can read it",
  vis_private: "Only me", vis_friends: "My friends", vis_public: "Everyone", save_note: "Save note", preview: "Preview", feed: "Feed", my_notes: "My notes",
  search_notes: "Search notes", like: "Like", unlike: "Unlike", share_to_chat: "Share to a chat", no_notes: "Nothing here yet.", note_saved: "Note saved.",
  reports_title: "Reports", this_week: "This week", this_month: "This month", vs_previous: "{delta} min compared with the period before",
  insights: "Insights", why: "Why", no_insights: "Not enough data yet: keep logging your days.",
  inbox_title: "Inbox", mark_all_read: "Mark all as read", no_notifications: "No notifications.", announcement_ack: "Got it",
  settings_title: "Settings", profile: "Profile", save_profile: "Save profile", theme: "Theme", theme_system: "Same as the device", theme_light: "Light", theme_dark: "Dark",
  privacy: "Privacy", profile_visibility: "Who sees my bio", show_presence: "Show friends when I am online", read_receipts: "Send read receipts", insights_on: "Insights about my data",
  sessions: "Signed-in devices", this_device: "this device", sign_out: "Sign out", sign_out_everywhere: "Sign out everywhere", export: "Download my data",
  delete_account: "Delete my account", delete_confirm: "Type your password to delete your account and its data.", saved: "Saved.",
  notifications: "Notifications", push_on: "Turn on push notifications", push_unavailable: "Push needs HTTPS; ask your school's IT team.", ntfy: "Android without Internet: ntfy topic",
  bio: "Bio", study_focus: "What I study", avatar: "Profile photo", avatar_saved: "Photo saved.",
  notif_types: "What to tell me about", in_app: "Inbox", push: "Push", quiet_hours: "My quiet hours (no push)", quiet_from: "From", quiet_to: "To",
  message_previews: "Show message text in push notifications", school_quiet: "School quiet hours: {start}–{end}",
  type_message_n: "Messages", type_friend_request: "Friend requests", type_friend_accepted: "Accepted requests", type_goal_reminder: "Goal reminders",
  type_goal_completed: "Goals reached", type_report_ready: "Reports ready", type_insight: "Insights", type_system: "School announcements",
  attachments: "Attachments", shared_note: "Shared a note: {title}", open_note: "Open", goals_in_period: "Goals",
  block_confirm: "Block {name}? They can no longer message you or find you.",
  skip: "Skip to content", new_group: "New group", group_name: "Group name", group_members: "Friends in it", create_group: "Create group",
  pick_chat: "Chat", share: "Share", shared: "Shared.", unknown_device: "unknown device", unread_count: "{count} unread",
  new_notification: "New notification: see the inbox.",
  error_generic: "Something went wrong ({status}).",
};

/** The text of `key` with `{name}` placeholders filled in. */
export function t(key, vars) {
  let s = strings[key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}
